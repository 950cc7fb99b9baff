"""Hand-written completions shared by the Prolog reward and evaluation tests."""

CORRECT = """<reasoning>
Tom has 5 apples and buys 3 more, so he has 5 + 3 = 8.
</reasoning>
<code>
solve(X) :-
    X is 5 + 3.
</code>
<query>
solve(X).
</query>"""

WRONG = CORRECT.replace("5 + 3.", "5 - 3.")

NON_TERMINATING = """<reasoning>
Count forever.
</reasoning>
<code>
count(N, X) :- M is N + 1, count(M, X).
solve(X) :- count(0, X).
</code>
<query>
solve(X).
</query>"""

SYNTAX_ERROR = """<reasoning>
Add them.
</reasoning>
<code>
solve(X) :- X is 5 +* 3.
</code>
<query>
solve(X).
</query>"""

# the query is also written into the code as a directive
LEAKED = """<reasoning>
Add them.
</reasoning>
<code>
solve(X) :- X is 5 + 3.
:- solve(X), write(X).
</code>
<query>
solve(X).
</query>"""

MISSING_TAGS = "The answer is 8. solve(X) :- X is 5 + 3."

FRACTION = """<reasoning>
3 of 4 parts.
</reasoning>
<code>
solve(X) :- X is 3 rdiv 4.
</code>
<query>
solve(X).
</query>"""

FRACTION_TERM = FRACTION.replace("X is 3 rdiv 4", "X = 3/4")

FLOAT = """<reasoning>
Half of 5.
</reasoning>
<code>
solve(X) :- X is 5 / 2.
</code>
<query>
solve(X).
</query>"""

RUNTIME_ERROR = CORRECT.replace("X is 5 + 3.", "X is 5 + apples.")

NO_SOLUTION = CORRECT.replace("X is 5 + 3.", "X is 5 + 3, X > 100.")

# extra text around the blocks, no newlines after the tags: soft format only
SLOPPY = ("Sure! <reasoning>5 and 3 make 8.</reasoning>\n<code>solve(X) :- X is 5 + 3.</code> "
          "<query>?- solve(X).</query> Hope this helps.")
