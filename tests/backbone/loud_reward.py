"""A custom reward function (``module:function``) that also speaks from inside the reward worker actor:
an OORL warning, a library's warning and error, a print. tests/backbone/test_console.py checks where
each one lands (console or the actor's log file)."""

import logging


def loud_letter_match(prompts, completions, **columns):
    from oorl.reward.functions import REWARD_FUNCTIONS

    logging.getLogger("oorl.tests.loud").warning("OORL-WARNING-FROM-ACTOR")
    logging.getLogger("somelib.loud").warning("LIBRARY-WARNING-FROM-ACTOR")
    logging.getLogger("somelib.loud").error("LIBRARY-ERROR-FROM-ACTOR")
    print("PRINT-FROM-ACTOR", flush=True)
    return REWARD_FUNCTIONS.get("letter_match")(prompts, completions, **columns)
