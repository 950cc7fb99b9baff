"""Prompts for code translation tasks: chat messages asking for a program in a target language.

The user turn names both languages, gives the source in a fenced block tagged with the source
language, the target signature when it is known, and asks for the answer in one fenced block of the
target language (the ``unit_tests`` reward takes the first block tagged with the target language).
Two kinds of task: a *function* (judged by unit tests that call it) and a *program* (judged by
stdin/stdout cases). Styles: ``zero_shot`` and ``one_shot``; the one-shot example is an earlier
user/assistant exchange in the same format, in the task's own pair of languages, written for this
project (``FUNCTION_EXAMPLE``, ``PROGRAM_EXAMPLE``). Only messages are built here: the model's chat
template is applied by the trainer (``tokenizer.apply_chat_template``).
"""

from __future__ import annotations

from oorl.errors import UserError

PROMPT_STYLES = ("zero_shot", "one_shot")
KINDS = ("function", "program")

# canonical language name (oorl.reward.languages) -> (name in the instruction, fence tag)
LANGUAGE_NAMES = {"python": ("Python", "python"), "cpp": ("C++", "cpp"), "java": ("Java", "java"),
                  "javascript": ("JavaScript", "javascript"), "typescript": ("TypeScript", "typescript"),
                  "go": ("Go", "go"), "rust": ("Rust", "rust"), "php": ("PHP", "php"), "bash": ("Bash", "bash"),
                  "csharp": ("C#", "csharp"), "prolog": ("Prolog", "prolog")}

SYSTEM = "You are an expert programmer who translates programs between programming languages faithfully."

# A worked translation for one-shot prompts: the same small function in every language, with its
# signature. Judged by tests/data/test_translation.py.
FUNCTION_EXAMPLE: dict[str, tuple[str, str]] = {
    "python": ("def sum_even_squares(numbers: list) -> int:", """\
def sum_even_squares(numbers: list) -> int:
    total = 0
    for n in numbers:
        if n % 2 == 0:
            total += n * n
    return total"""),
    "cpp": ("long sum_even_squares(vector<long> numbers)", """\
#include <vector>
using namespace std;

long sum_even_squares(vector<long> numbers) {
    long total = 0;
    for (long n : numbers) {
        if (n % 2 == 0) {
            total += n * n;
        }
    }
    return total;
}"""),
    "java": ("class Solution {\n    public long sumEvenSquares(List<Long> numbers)", """\
import java.util.*;

class Solution {
    public long sumEvenSquares(List<Long> numbers) {
        long total = 0;
        for (long n : numbers) {
            if (n % 2 == 0) {
                total += n * n;
            }
        }
        return total;
    }
}"""),
    "javascript": ("const sumEvenSquares = (numbers) =>", """\
const sumEvenSquares = (numbers) => {
  let total = 0;
  for (const n of numbers) {
    if (n % 2 === 0) {
      total += n * n;
    }
  }
  return total;
};"""),
    "typescript": ("function sumEvenSquares(numbers: number[]): number", """\
function sumEvenSquares(numbers: number[]): number {
  let total = 0;
  for (const n of numbers) {
    if (n % 2 === 0) {
      total += n * n;
    }
  }
  return total;
}"""),
    "go": ("func SumEvenSquares(numbers []int) int", """\
func SumEvenSquares(numbers []int) int {
    total := 0
    for _, n := range numbers {
        if n%2 == 0 {
            total += n * n
        }
    }
    return total
}"""),
    "rust": ("fn sum_even_squares(numbers: Vec<i64>) -> i64", """\
fn sum_even_squares(numbers: Vec<i64>) -> i64 {
    let mut total = 0;
    for n in numbers {
        if n % 2 == 0 {
            total += n * n;
        }
    }
    total
}"""),
    "php": ("function sum_even_squares($numbers)", """\
<?php
function sum_even_squares($numbers) {
    $total = 0;
    foreach ($numbers as $n) {
        if ($n % 2 == 0) {
            $total += $n * $n;
        }
    }
    return $total;
}"""),
    "bash": ("sum_even_squares() # $1: the numbers, separated by spaces", """\
sum_even_squares() {
    local total=0
    for n in $1; do
        if (( n % 2 == 0 )); then
            total=$(( total + n * n ))
        fi
    done
    echo "$total"
}"""),
    "csharp": ("class Problem {\n    public static long SumEvenSquares(List<long> numbers)", """\
using System.Collections.Generic;

class Problem {
    public static long SumEvenSquares(List<long> numbers) {
        long total = 0;
        foreach (long n in numbers) {
            if (n % 2 == 0) {
                total += n * n;
            }
        }
        return total;
    }
}"""),
    "prolog": ("sum_even_squares(+Numbers, -Total)", """\
sum_even_squares([], 0).
sum_even_squares([N|Ns], Total) :-
    sum_even_squares(Ns, Rest),
    (   N mod 2 =:= 0
    ->  Total is Rest + N * N
    ;   Total = Rest
    )."""),
}

# The same computation as a complete program: whitespace-separated integers on stdin, the sum of the
# squares of the even ones on stdout. Input "1 2 3 4" -> "20".
PROGRAM_EXAMPLE: dict[str, str] = {
    "python": """\
import sys

total = 0
for token in sys.stdin.read().split():
    n = int(token)
    if n % 2 == 0:
        total += n * n
print(total)""",
    "cpp": """\
#include <iostream>

int main() {
    long long total = 0, n;
    while (std::cin >> n) {
        if (n % 2 == 0) {
            total += n * n;
        }
    }
    std::cout << total << std::endl;
    return 0;
}""",
    "java": """\
import java.util.*;

public class Main {
    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        long total = 0;
        while (in.hasNextLong()) {
            long n = in.nextLong();
            if (n % 2 == 0) {
                total += n * n;
            }
        }
        System.out.println(total);
    }
}""",
    "javascript": """\
const input = require("fs").readFileSync(0, "utf8");
let total = 0;
for (const token of input.split(/\\s+/).filter((t) => t.length > 0)) {
  const n = Number(token);
  if (n % 2 === 0) {
    total += n * n;
  }
}
console.log(total);""",
    "typescript": """\
const input: string = require("fs").readFileSync(0, "utf8");
let total = 0;
for (const token of input.split(/\\s+/).filter((t) => t.length > 0)) {
  const n = Number(token);
  if (n % 2 === 0) {
    total += n * n;
  }
}
console.log(total);""",
    "go": """\
package main

import (
    "bufio"
    "fmt"
    "os"
)

func main() {
    reader := bufio.NewReader(os.Stdin)
    total := 0
    for {
        var n int
        if _, err := fmt.Fscan(reader, &n); err != nil {
            break
        }
        if n%2 == 0 {
            total += n * n
        }
    }
    fmt.Println(total)
}""",
    "rust": """\
use std::io::Read;

fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    let mut total: i64 = 0;
    for token in input.split_whitespace() {
        let n: i64 = token.parse().unwrap();
        if n % 2 == 0 {
            total += n * n;
        }
    }
    println!("{}", total);
}""",
    "php": """\
<?php
$total = 0;
foreach (preg_split('/\\s+/', trim(stream_get_contents(STDIN))) as $token) {
    if ($token === '') {
        continue;
    }
    $n = intval($token);
    if ($n % 2 == 0) {
        $total += $n * $n;
    }
}
echo $total, "\\n";""",
    "bash": """\
total=0
for n in $(cat); do
    if (( n % 2 == 0 )); then
        total=$(( total + n * n ))
    fi
done
echo "$total\"""",
    "csharp": """\
using System;

class Program {
    static void Main() {
        long total = 0;
        foreach (string token in Console.In.ReadToEnd().Split((char[])null, StringSplitOptions.RemoveEmptyEntries)) {
            long n = long.Parse(token);
            if (n % 2 == 0) {
                total += n * n;
            }
        }
        Console.WriteLine(total);
    }
}""",
    "prolog": """\
:- initialization(main).

main :-
    read_string(user_input, _, Text),
    split_string(Text, " \\t\\n", " \\t\\n", Parts),
    exclude(==(""), Parts, Tokens),
    maplist(number_string, Numbers, Tokens),
    foldl(add_even_square, Numbers, 0, Total),
    format("~d~n", [Total]).

add_even_square(N, Acc0, Acc) :-
    (   N mod 2 =:= 0
    ->  Acc is Acc0 + N * N
    ;   Acc = Acc0
    ).""",
}
PROGRAM_EXAMPLE_CASE = ("1 2 3 4\n", "20\n")


def language_label(language: str) -> tuple[str, str]:
    """(name in the instruction, fence tag) of a canonical language name."""
    return LANGUAGE_NAMES.get(language, (language, language))


def user_message(source_language: str, target_language: str, source_code: str, *, signature: str | None = None,
                 kind: str = "function") -> str:
    """The user turn of a translation task."""
    if kind not in KINDS:
        raise UserError(f"translation prompt kind must be one of {', '.join(KINDS)} (got {kind!r})")
    src_name, src_tag = language_label(source_language)
    tgt_name, tgt_tag = language_label(target_language)
    what = "function" if kind == "function" else "program"
    parts = [f"Translate the following {src_name} {what} into {tgt_name}.",
             f"```{src_tag}\n{source_code.strip(chr(10))}\n```"]
    if signature and signature.strip():
        parts.append(f"The {tgt_name} function must have this signature:\n"
                     f"```{tgt_tag}\n{signature.strip(chr(10))}\n```")
    if kind == "function":
        parts.append(f"Answer with the complete {tgt_name} function, with the imports and helper functions it "
                     f"needs, in one ```{tgt_tag} code block. Do not write a main function, tests or example usage.")
    else:
        parts.append(f"Answer with a complete {tgt_name} program that reads its input from standard input and "
                     f"writes its output to standard output, in one ```{tgt_tag} code block.")
    return "\n\n".join(parts)


def _fenced(language: str, code: str) -> str:
    return f"```{language_label(language)[1]}\n{code.strip(chr(10))}\n```"


def example_turns(source_language: str, target_language: str, kind: str = "function") -> list[dict[str, str]]:
    """The one-shot example for this pair: a user turn and the ideal assistant answer."""
    table = FUNCTION_EXAMPLE if kind == "function" else PROGRAM_EXAMPLE
    missing = [lang for lang in (source_language, target_language) if lang not in table]
    if missing:
        raise UserError(f"no one-shot translation example in {missing[0]!r} (languages: {', '.join(table)}); "
                        "use prompt_style: zero_shot")
    if kind == "function":
        src, tgt = FUNCTION_EXAMPLE[source_language][1], FUNCTION_EXAMPLE[target_language]
        user = user_message(source_language, target_language, src, signature=tgt[0], kind=kind)
        answer = tgt[1]
    else:
        user = user_message(source_language, target_language, PROGRAM_EXAMPLE[source_language], kind=kind)
        answer = PROGRAM_EXAMPLE[target_language]
    return [{"role": "user", "content": user}, {"role": "assistant", "content": _fenced(target_language, answer)}]


def translation_messages(source_language: str, target_language: str, source_code: str, *,
                         signature: str | None = None, kind: str = "function", prompt_style: str = "zero_shot",
                         system: str | None = None) -> list[dict[str, str]]:
    """Chat messages of one translation task (``system`` replaces the built-in system prompt)."""
    if prompt_style not in PROMPT_STYLES:
        raise UserError(f"unknown prompt_style {prompt_style!r} for a translation task "
                        f"(known: {', '.join(PROMPT_STYLES)})")
    messages = [{"role": "system", "content": SYSTEM if system is None else system}]
    if prompt_style == "one_shot":
        messages += example_turns(source_language, target_language, kind)
    messages.append({"role": "user", "content": user_message(source_language, target_language, source_code,
                                                             signature=signature, kind=kind)})
    return messages
