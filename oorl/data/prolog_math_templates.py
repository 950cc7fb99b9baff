"""Templates of the built-in maths/logic word problems (see :mod:`oorl.data.prolog_math`).

Each template is ``f(rng, level) -> Problem``: a question in English, its exact answer and a
reference Prolog program defining ``solve/1`` whose query ``solve(X)`` binds ``X`` to the answer
(the tests run every template's reference program in the sandbox and check the answer).

Difficulty levels:

* 0 -- one addition or subtraction of small numbers (``arithmetic``, ``ages``);
* 1 -- two steps, or one multiplication/division, or a 3-person ordering;
* 2 -- three steps, percentages, fractions, remainders, sets, 4-5 person orderings;
* 3 -- four steps, compound percentages, combined rates, systems of ages, 6-person orderings.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

NAMES = ("Ava", "Ben", "Cara", "Dan", "Ella", "Finn", "Gia", "Hugo", "Ivy", "Jack", "Kira", "Leo",
         "Maya", "Nate", "Olga", "Paul", "Quinn", "Rosa", "Sam", "Tara", "Uma", "Victor", "Wendy",
         "Xavier", "Yara", "Zane", "Amir", "Bella", "Chen", "Dina", "Emil", "Fatima", "Omar", "Lena")
ITEMS = (("apple", "apples"), ("marble", "marbles"), ("sticker", "stickers"), ("book", "books"),
         ("card", "cards"), ("pencil", "pencils"), ("cookie", "cookies"), ("shell", "shells"),
         ("stamp", "stamps"), ("coin", "coins"), ("balloon", "balloons"), ("toy car", "toy cars"),
         ("flower", "flowers"), ("egg", "eggs"), ("candy", "candies"), ("ribbon", "ribbons"),
         ("button", "buttons"), ("rock", "rocks"), ("comic", "comics"), ("orange", "oranges"))
GOODS = (("notebook", "notebooks"), ("pen", "pens"), ("sandwich", "sandwiches"), ("ticket", "tickets"),
         ("cupcake", "cupcakes"), ("toy", "toys"), ("T-shirt", "T-shirts"), ("plant", "plants"),
         ("mug", "mugs"), ("bag of chips", "bags of chips"), ("ball", "balls"), ("puzzle", "puzzles"))
_NUM_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


@dataclass(frozen=True)
class Problem:
    """One generated problem: question, exact answer, reference program (defines ``solve/1``)."""

    question: str
    answer: Fraction
    code: str
    template: str
    difficulty: int


def _atom(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _count(n: int, noun: tuple[str, str]) -> str:
    return f"{n} {noun[0] if n == 1 else noun[1]}"


def _names(rng: random.Random, k: int) -> list[str]:
    return rng.sample(NAMES, k)


def _solve(lines: list[str], var: str = "X") -> str:
    body = ",\n    ".join(lines)
    return f"solve({var}) :-\n    {body}."


# ---------------------------------------------------------------- arithmetic (levels 0-3)

def arithmetic(rng: random.Random, level: int) -> Problem:
    name, friend = _names(rng, 2)
    item = rng.choice(ITEMS)
    maxv = (20, 30, 60, 100)[level]
    ops = ("+", "-") if level == 0 else ("+", "-", "*") if level == 1 else ("+", "-", "*", "/")
    cur = rng.randint(2 if level == 0 else 5, maxv)
    intro = rng.choice([f"{name} has {_count(cur, item)}.",
                        f"{name} starts the day with {_count(cur, item)}.",
                        f"There are {_count(cur, item)} in {name}'s box."])
    sentences, lines = [intro], [f"S0 = {cur}"]
    for step in range(1, level + 2):
        choices = [op for op in ops if not (op == "-" and cur < 2)
                   and not (op == "*" and cur * 2 > 400)
                   and not (op == "/" and not any(cur % k == 0 for k in (2, 3, 4, 5)))]
        op = rng.choice(choices)
        if op == "+":
            k = rng.randint(1, maxv)
            verb = rng.choice(["buys", "finds", "gets", "is given"])
            sentences.append(f"Then {name} {verb} {k} more.")
            cur += k
        elif op == "-":
            k = rng.randint(1, cur - 1)
            sentences.append(rng.choice([f"Then {name} gives {k} to {friend}.",
                                         f"Then {name} loses {k}.",
                                         f"Then {name} uses {k} of them."]))
            cur -= k
        elif op == "*":
            k = rng.choice([2, 3] if level < 3 else [2, 3, 4])
            word = {2: "doubles", 3: "triples", 4: "becomes four times as large"}[k]
            sentences.append(f"Then the number of {item[1]} {name} has {word}.")
            cur *= k
        else:
            k = rng.choice([k for k in (2, 3, 4, 5) if cur % k == 0])
            sentences.append(f"Then {name} splits them equally into {k} bags and keeps only one bag.")
            cur //= k
        lines.append(f"S{step} is S{step - 1} {'//' if op == '/' else op} {k}")
    lines.append(f"X = S{level + 1}")
    sentences.append(f"How many {item[1]} does {name} have now?")
    return Problem(" ".join(sentences), Fraction(cur), _solve(lines), "arithmetic", level)


# ---------------------------------------------------------------- ages (levels 0-3)

def ages(rng: random.Random, level: int) -> Problem:
    a, b = _names(rng, 2)
    if level == 0:
        age, d = rng.randint(5, 20), rng.randint(1, 9)
        if rng.random() < 0.5:
            q = f"{a} is {age} years old. {b} is {d} years older than {a}. How old is {b}?"
            return Problem(q, Fraction(age + d), _solve([f"A = {age}", f"X is A + {d}"]), "ages", 0)
        age += d
        q = f"{a} is {age} years old. {b} is {d} years younger than {a}. How old is {b}?"
        return Problem(q, Fraction(age - d), _solve([f"A = {age}", f"X is A - {d}"]), "ages", 0)
    if level == 1:
        age, d, y = rng.randint(5, 40), rng.randint(1, 15), rng.randint(2, 20)
        q = (f"{a} is {age} years old. {b} is {d} years older than {a}. "
             f"How old will {b} be in {y} years?")
        return Problem(q, Fraction(age + d + y), _solve([f"A = {age}", f"B is A + {d}", f"X is B + {y}"]),
                       "ages", 1)
    if level == 2:
        bage, k, y = rng.randint(2, 15), rng.randint(2, 4), rng.randint(1, 15)
        times = "twice" if k == 2 else f"{_NUM_WORDS[k]} times"
        q = (f"{a} is {times} as old as {b}. {b} is {bage} years old. "
             f"How old will {a} be in {y} years?")
        return Problem(q, Fraction(k * bage + y),
                       _solve([f"B = {bage}", f"A is {k} * B", f"X is A + {y}"]), "ages", 2)
    bage, d = rng.randint(3, 40), rng.randint(1, 20)
    total = 2 * bage + d
    q = (f"The ages of {a} and {b} add up to {total} years. {a} is {d} years older than {b}. "
         f"How old is {a}?")
    code = _solve(["between(0, 200, B)", f"A is B + {d}", f"A + B =:= {total}", "X = A"])
    return Problem(q, Fraction(bage + d), code, "ages", 3)


# ---------------------------------------------------------------- shopping (levels 1-3)

def shopping(rng: random.Random, level: int) -> Problem:
    name = rng.choice(NAMES)
    goods = rng.sample(GOODS, level)
    qty = [rng.randint(2, 9) for _ in goods]
    price = [rng.randint(1, 15) for _ in goods]
    parts = [f"{_count(q, g)} at ${p} each" for q, g, p in zip(qty, goods, price)]
    bought = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    total = sum(q * p for q, p in zip(qty, price))
    facts = "\n".join(f"price({_atom(g[0])}, {p})." for g, p in zip(goods, price))
    lines = [f"price({_atom(g[0])}, P{i})" for i, g in enumerate(goods)]
    sum_expr = " + ".join(f"{q} * P{i}" for i, q in enumerate(qty))
    if level < 3:
        q = f"{name} buys {bought}. How many dollars does {name} spend?"
        return Problem(q, Fraction(total), facts + "\n\n" + _solve(lines + [f"X is {sum_expr}"]),
                       "shopping", level)
    bill = next(b for b in (20, 50, 100, 200, 500) if b > total)
    q = f"{name} buys {bought}, and pays with a ${bill} bill. How many dollars of change does {name} get?"
    code = facts + "\n\n" + _solve(lines + [f"Total is {sum_expr}", f"X is {bill} - Total"])
    return Problem(q, Fraction(bill - total), code, "shopping", 3)


# ---------------------------------------------------------------- percent (levels 1-3)

_PERCENTS = (10, 20, 25, 30, 40, 50, 60, 75, 80, 90)
_GROUPS = (("students", "walk to school"), ("trees in a park", "are oaks"), ("marbles in a jar", "are red"),
           ("people at a party", "drink tea"), ("cars in a car park", "are blue"),
           ("books on a shelf", "are novels"), ("players in a club", "are left-handed"))
_THINGS = ("jacket", "bicycle", "lamp", "watch", "chair", "backpack", "camera", "pair of shoes")


def percent(rng: random.Random, level: int) -> Problem:
    p = rng.choice(_PERCENTS)
    if level == 1:
        group, prop = rng.choice(_GROUPS)
        step = 100 // _gcd(p, 100)
        n = step * rng.randint(1, max(1, 400 // step))
        q = f"There are {n} {group}. {p}% of them {prop}. How many of them {prop}?"
        return Problem(q, Fraction(n * p, 100), _solve([f"X is {n} * {p} / 100"]), "percent", 1)
    thing = rng.choice(_THINGS)
    price = rng.randint(2, 60) * 5
    if level == 2:
        q = (f"A {thing} costs ${price}. It is on sale for {p}% off. "
             f"What is the sale price of the {thing}, in dollars?")
        code = _solve([f"Off is {price} * {p} / 100", f"X is {price} - Off"])
        return Problem(q, Fraction(price) * (100 - p) / 100, code, "percent", 2)
    up = rng.choice((10, 20, 25, 50))
    q = (f"A {thing} costs ${price}. Its price goes up by {up}%, and then the new price is "
         f"reduced by {p}%. What is the final price of the {thing}, in dollars?")
    code = _solve([f"P1 is {price} * (100 + {up}) / 100", f"X is P1 * (100 - {p}) / 100"])
    return Problem(q, Fraction(price) * (100 + up) / 100 * (100 - p) / 100, code, "percent", 3)


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


# ---------------------------------------------------------------- rates (levels 1-3)

_MAKERS = (("machine", "toys"), ("printer", "pages"), ("bakery", "loaves"), ("factory", "chairs"))


def rate(rng: random.Random, level: int) -> Problem:
    name = rng.choice(NAMES)
    if level == 1:
        kind = rng.randrange(3)
        r, t = rng.randint(2, 60), rng.randint(2, 12)
        if kind == 0:
            q = f"A car travels at {r} km per hour. How many km does it travel in {t} hours?"
        elif kind == 1:
            maker, out = rng.choice(_MAKERS)
            q = f"A {maker} makes {r} {out} per hour. How many {out} does it make in {t} hours?"
        else:
            q = f"{name} reads {r} pages every day. How many pages does {name} read in {t} days?"
        return Problem(q, Fraction(r * t), _solve([f"X is {r} * {t}"]), "rate", 1)
    if level == 2:
        v1, t1, v2, t2 = rng.randint(20, 90), rng.randint(1, 5), rng.randint(20, 90), rng.randint(1, 5)
        q = (f"A train travels for {t1} hours at {v1} km per hour, and then for {t2} hours at "
             f"{v2} km per hour. How many km does it travel in total?")
        code = (f"leg(1, {v1}, {t1}).\nleg(2, {v2}, {t2}).\n\n"
                "solve(X) :-\n    findall(D, (leg(_, V, T), D is V * T), Ds),\n    sum_list(Ds, X).")
        return Problem(q, Fraction(v1 * t1 + v2 * t2), code, "rate", 2)
    if rng.random() < 0.5:
        maker, out = rng.choice(_MAKERS)
        a, b, h = rng.randint(2, 30), rng.randint(2, 30), rng.randint(2, 12)
        n = (a + b) * h
        q = (f"One {maker} makes {a} {out} per hour and a second {maker} makes {b} {out} per hour. "
             f"Working together, how many hours do they need to make {n} {out}?")
        return Problem(q, Fraction(h), _solve([f"Rate is {a} + {b}", f"X is {n} / Rate"]), "rate", 3)
    fill, leak, m = rng.randint(5, 30), rng.randint(1, 4), rng.randint(3, 20)
    cap = (fill - leak) * m
    q = (f"An empty tank holds {cap} litres. A pipe fills it with {fill} litres per minute, but a "
         f"leak drains {leak} litres per minute. How many minutes does it take to fill the tank?")
    return Problem(q, Fraction(m), _solve([f"Net is {fill} - {leak}", f"X is {cap} / Net"]), "rate", 3)


# ---------------------------------------------------------------- ordering (levels 1-3)

_RELATIONS = (("taller", "shorter", "height"), ("older", "younger", "age"),
              ("faster", "slower", "speed"), ("heavier", "lighter", "weight"))


def ordering(rng: random.Random, level: int) -> Problem:
    n = {1: 3, 2: rng.choice([4, 5]), 3: 6}[level]
    people = _names(rng, n)  # people[0] has the most of the quality
    more, less, quality = rng.choice(_RELATIONS)
    pairs = [(people[i], people[i + 1]) for i in range(n - 1)]
    rng.shuffle(pairs)
    facts = []
    for hi, lo in pairs:
        if level >= 2 and rng.random() < 0.5:
            facts.append(f"{lo} is {less} than {hi}.")
        else:
            facts.append(f"{hi} is {more} than {lo}.")
    intro = f"{_NUM_WORDS[n].capitalize()} friends compare their {quality}. " + " ".join(facts)
    kb = "\n".join(f"{more}({_atom(hi)}, {_atom(lo)})." for hi, lo in pairs)
    above = f"above(A, B) :- {more}(A, B).\nabove(A, B) :- {more}(A, C), above(C, B)."
    kind = rng.randrange(3 if level == 3 else 2)
    if kind == 0:
        x = rng.randrange(n)
        q = f"{intro} How many of them are {more} than {people[x]}?"
        body = (f"solve(N) :-\n    findall(P, above(P, {_atom(people[x])}), L),\n"
                "    sort(L, S),\n    length(S, N).")
        ans = x
    elif kind == 1:
        x = rng.randrange(n)
        q = f"{intro} If they line up from {more} to {less}, in which position is {people[x]}?"
        body = (f"solve(Pos) :-\n    findall(P, above(P, {_atom(people[x])}), L),\n"
                "    sort(L, S),\n    length(S, N),\n    Pos is N + 1.")
        ans = x + 1
    else:
        i, j = sorted(rng.sample(range(n), 2))
        q = f"{intro} How many of them are {less} than {people[i]} but {more} than {people[j]}?"
        body = (f"solve(N) :-\n    findall(P, (above({_atom(people[i])}, P), above(P, {_atom(people[j])})), L),\n"
                "    sort(L, S),\n    length(S, N).")
        ans = j - i - 1
    return Problem(q, Fraction(ans), f"{kb}\n\n{above}\n\n{body}", "ordering", level)


# ---------------------------------------------------------------- fractions (levels 2-3)

def fractions(rng: random.Random, level: int) -> Problem:
    a, b = _names(rng, 2)
    if level == 2 or rng.random() < 0.5:
        n = rng.choice([6, 8, 10, 12, 16])
        ea = rng.randint(1, n - 2)
        eb = rng.randint(1, n - ea - 1)
        q = (f"A pizza is cut into {n} equal slices. {a} eats {ea} slices and {b} eats {eb} slices. "
             "What fraction of the pizza is left?")
        return Problem(q, Fraction(n - ea - eb, n), _solve([f"X is ({n} - {ea} - {eb}) rdiv {n}"]),
                       "fractions", level)
    p, r = rng.choice([2, 3, 4, 5]), rng.choice([2, 3, 4])
    money = p * r * rng.randint(2, 20)
    q = (f"{a} has ${money}. {a} spends 1/{p} of it on a book, and then 1/{r} of what is left on lunch. "
         f"How many dollars does {a} have left?")
    left = Fraction(money) * (p - 1) / p * (r - 1) / r
    code = _solve([f"M1 is {money} - {money} / {p}", f"X is M1 - M1 / {r}"])
    return Problem(q, left, code, "fractions", 3)


# ---------------------------------------------------------------- remainders (levels 1-2)

def remainder(rng: random.Random, level: int) -> Problem:
    item = rng.choice(ITEMS)
    k = rng.randint(2, 9)
    if level == 1:
        each = rng.randint(2, 12)
        q = (f"{k * each} {item[1]} are shared equally among {k} children. "
             f"How many {item[1]} does each child get?")
        return Problem(q, Fraction(each), _solve([f"X is {k * each} // {k}"]), "remainder", 1)
    n = k * rng.randint(2, 15) + rng.randint(1, k - 1)
    kind = rng.randrange(3)
    if kind == 0:
        q = f"{n} {item[1]} are shared equally among {k} children. How many {item[1]} are left over?"
        return Problem(q, Fraction(n % k), _solve([f"X is {n} mod {k}"]), "remainder", 2)
    if kind == 1:
        q = (f"{n} {item[1]} are shared equally among {k} children, as many as possible each. "
             f"How many {item[1]} does each child get?")
        return Problem(q, Fraction(n // k), _solve([f"X is {n} // {k}"]), "remainder", 2)
    q = f"{n} {item[1]} are packed into bags that hold {k} each. How many bags are needed?"
    return Problem(q, Fraction(-(-n // k)), _solve([f"X is ({n} + {k} - 1) // {k}"]), "remainder", 2)


# ---------------------------------------------------------------- sets (levels 2-3)

_ACTIVITIES = ("play football", "play chess", "sing in the choir", "learn French", "swim",
               "play the piano", "paint", "dance")


def sets(rng: random.Random, level: int) -> Problem:
    x, y = rng.sample(_ACTIVITIES, 2)
    both = rng.randint(1, 10)
    a, b = both + rng.randint(1, 20), both + rng.randint(1, 20)
    total = a + b - both + rng.randint(0, 20)
    both_text = "1 student does" if both == 1 else f"{both} students do"
    intro = f"In a class of {total} students, {a} students {x}, {b} students {y}, and {both_text} both."
    if level == 2:
        q = f"{intro} How many students do neither?"
        code = _solve([f"Either is {a} + {b} - {both}", f"X is {total} - Either"])
        return Problem(q, Fraction(total - (a + b - both)), code, "sets", 2)
    q = f"{intro} How many students do exactly one of the two?"
    return Problem(q, Fraction(a + b - 2 * both), _solve([f"X is {a} + {b} - 2 * {both}"]), "sets", 3)


# name -> (generator, levels it supports)
TEMPLATES: dict[str, tuple[Callable[[random.Random, int], Problem], tuple[int, ...]]] = {
    "arithmetic": (arithmetic, (0, 1, 2, 3)),
    "ages": (ages, (0, 1, 2, 3)),
    "shopping": (shopping, (1, 2, 3)),
    "percent": (percent, (1, 2, 3)),
    "rate": (rate, (1, 2, 3)),
    "ordering": (ordering, (1, 2, 3)),
    "fractions": (fractions, (2, 3)),
    "remainder": (remainder, (1, 2)),
    "sets": (sets, (2, 3)),
}
