"""The language registry: Prolog, Python, C++, Java, JavaScript, TypeScript, Go, Rust, PHP, Bash, C#, and
LLVM IR (judged with a C++ test program: the GEPO groups, a model's code -> IR translation).

``get_language(name)`` accepts names and aliases (``js``, ``c++``, ``c#``...); ``LANGUAGES`` maps
canonical names to their ``Language``. A new language is a ``Language`` subclass decorated with
``@register_language``.
"""

from oorl.reward.languages.base import (  # noqa: F401
    LANGUAGES,
    Ctx,
    Language,
    canonical_name,
    get_language,
    new_sentinel,
    register_language,
    strip_sentinel,
)
from oorl.reward.languages import scripted, native, managed, prolog_lang, llvm_ir  # noqa: F401,E402  (registration)
