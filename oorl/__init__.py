"""OORL: RL for code LLMs in low-resource languages."""
__version__ = "0.1.0"
