"""Hostile programs, one of each kind per language, and the verdicts they must get.

Each case is (program, tests); ``@READ@`` / ``@WRITE@`` stand for a list of host paths written as a
literal of the language (see ``fill``). Programs print ``LEAKED``/``WROTE``/``CONNECTED`` when an
attack worked, which the tests forbid (the host-side checks are the real ones).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

TIMEOUT = {"timeout"}
EXPECTED = {
    "infinite_loop": TIMEOUT,
    "fork_bomb": {"timeout", "runtime_error", "memory"},
    "memory_bomb": {"memory"},
    "big_file": {"runtime_error"},
    "network": {"runtime_error", "failed"},
    "read_outside": {"runtime_error", "failed"},
    "write_outside": {"passed", "failed", "runtime_error"},
    "background_process": {"passed"},
    "huge_output": {"runtime_error"},
    "ignores_sigterm": TIMEOUT,
}

_C_LIKE_NET = """#include <arpa/inet.h>
#include <cstdio>
#include <sys/socket.h>
int main() {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(80);
    inet_pton(AF_INET, "1.1.1.1", &a.sin_addr);
    if (connect(s, (sockaddr*)&a, sizeof a) == 0) { std::puts("CONNECTED"); return 0; }
    std::perror("connect");
    return 1;
}
"""

_JS = {
    "infinite_loop": ("while (true) {}\n", ""),
    "fork_bomb": ("const cp = require('child_process');\n"
                  "while (true) { try { cp.spawn('/bin/sh', ['-c', 'while :; do :; done']); } catch (e) {} }\n", ""),
    "memory_bomb": ("const keep = [];\nwhile (true) { keep.push(Buffer.alloc(1 << 24, 1)); }\n", ""),
    "big_file": ("const fs = require('fs');\nconst fd = fs.openSync('big.bin', 'w');\n"
                 "const buf = Buffer.alloc(1 << 20, 120);\nfor (let i = 0; i < 1024; i++) fs.writeSync(fd, buf);\n", ""),
    "network": ("const net = require('net');\n"
                "const s = net.connect(80, '1.1.1.1', () => { console.log('CONNECTED'); process.exit(0); });\n"
                "s.on('error', (e) => { throw e; });\n", ""),
    "read_outside": ("const fs = require('fs');\nfor (const p of @READ@) {\n"
                     "  try { fs.readFileSync(p); console.log('LEAKED', p); } catch (e) {}\n}\nprocess.exit(1);\n", ""),
    "write_outside": ("const fs = require('fs');\nfor (const p of @WRITE@) {\n"
                      "  try { fs.writeFileSync(p, 'pwned'); console.log('WROTE', p); } catch (e) {}\n}\n", ""),
    "background_process": ("const cp = require('child_process');\n"
                           "cp.spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' }).unref();\n", ""),
    "huge_output": ("const fs = require('fs');\nconst line = 'x'.repeat(1023) + '\\n';\n"
                    "for (let i = 0; i < 100 * 1024; i++) fs.writeSync(1, line);\n", ""),
    "ignores_sigterm": ("process.on('SIGTERM', () => {});\nwhile (true) {}\n", ""),
}

CASES: dict[str, dict[str, tuple[str, str]]] = {
    "python": {
        "infinite_loop": ("while True:\n    pass\n", ""),
        "fork_bomb": ("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", ""),
        "memory_bomb": ("keep = []\nwhile True:\n    keep.append(b'\\x01' * (1 << 24))\n", ""),
        "big_file": ("with open('big.bin', 'wb') as f:\n    for _ in range(1024):\n        f.write(b'x' * (1 << 20))\n", ""),
        "network": ("import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2)\nprint('CONNECTED')\n", ""),
        "read_outside": ("for p in @READ@:\n    try:\n        open(p, 'rb').read()\n        print('LEAKED', p)\n"
                         "    except OSError:\n        pass\nraise SystemExit(1)\n", ""),
        "write_outside": ("for p in @WRITE@:\n    try:\n        open(p, 'w').write('pwned')\n        print('WROTE', p)\n"
                          "    except OSError:\n        pass\n", ""),
        "background_process": ("import os, subprocess, time\nsubprocess.Popen(['sleep', '1000'], start_new_session=True)\n"
                               "if os.fork() == 0:\n    os.setsid()\n    while True:\n        time.sleep(1)\n", ""),
        "huge_output": ("import sys\nline = 'x' * 1023 + '\\n'\nfor _ in range(100 * 1024):\n    sys.stdout.write(line)\n", ""),
        "ignores_sigterm": ("import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass\n", ""),
    },
    "javascript": _JS,
    "typescript": {k: (v[0].replace("(e) =>", "(e: any) =>"), v[1]) for k, v in _JS.items()},
    "cpp": {
        "infinite_loop": ("int main() { volatile unsigned long i = 0; while (true) { i++; } }\n", ""),
        "fork_bomb": ("#include <unistd.h>\nint main() { while (true) fork(); }\n", ""),
        "memory_bomb": ("#include <cstring>\n#include <vector>\nint main() {\n    std::vector<char*> keep;\n"
                        "    while (true) { char* p = new char[1 << 24]; std::memset(p, 1, 1 << 24); keep.push_back(p); }\n}\n", ""),
        "big_file": ("#include <cstdio>\n#include <vector>\nint main() {\n    FILE* f = std::fopen(\"big.bin\", \"wb\");\n"
                     "    std::vector<char> b(1 << 20, 'x');\n    for (int i = 0; i < 1024; i++) std::fwrite(b.data(), 1, b.size(), f);\n"
                     "    return std::fclose(f) == 0 ? 0 : 1;\n}\n", ""),
        "network": (_C_LIKE_NET, ""),
        "read_outside": ("#include <cstdio>\nint main() {\n    const char* ps[] = @READ@;\n    for (const char* p : ps) {\n"
                         "        FILE* f = std::fopen(p, \"rb\");\n        if (f) { std::printf(\"LEAKED %s\\n\", p); std::fclose(f); }\n"
                         "    }\n    return 1;\n}\n", ""),
        "write_outside": ("#include <cstdio>\nint main() {\n    const char* ps[] = @WRITE@;\n    for (const char* p : ps) {\n"
                          "        FILE* f = std::fopen(p, \"wb\");\n        if (f) { std::fputs(\"pwned\", f); std::fclose(f); std::printf(\"WROTE %s\\n\", p); }\n"
                          "    }\n}\n", ""),
        "background_process": ("#include <unistd.h>\nint main() {\n    if (fork() == 0) { setsid(); if (fork() == 0) { while (true) sleep(1); } }\n"
                               "    return 0;\n}\n", ""),
        "huge_output": ("#include <cstdio>\n#include <string>\nint main() {\n    std::string l(1023, 'x');\n    l += '\\n';\n"
                        "    for (int i = 0; i < 100 * 1024; i++) std::fwrite(l.data(), 1, l.size(), stdout);\n}\n", ""),
        "ignores_sigterm": ("#include <csignal>\nint main() { std::signal(SIGTERM, SIG_IGN); volatile unsigned long i = 0; while (true) i++; }\n", ""),
    },
    "rust": {
        "infinite_loop": ("fn main() { let mut i: u64 = 0; loop { i = i.wrapping_add(1); std::hint::black_box(i); } }\n", ""),
        "fork_bomb": ("fn main() { loop { let _ = std::process::Command::new(\"/bin/sh\").arg(\"-c\").arg(\"while :; do :; done\").spawn(); } }\n", ""),
        "memory_bomb": ("fn main() { let mut keep = Vec::new(); loop { keep.push(vec![1u8; 1 << 24]); } }\n", ""),
        "big_file": ("use std::io::Write;\nfn main() {\n    let mut f = std::fs::File::create(\"big.bin\").unwrap();\n"
                     "    let b = vec![b'x'; 1 << 20];\n    for _ in 0..1024 { f.write_all(&b).unwrap(); }\n}\n", ""),
        "network": ("fn main() {\n    let a = \"1.1.1.1:80\".parse().unwrap();\n"
                    "    match std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(2)) {\n"
                    "        Ok(_) => println!(\"CONNECTED\"),\n        Err(e) => panic!(\"{e}\"),\n    }\n}\n", ""),
        "read_outside": ("fn main() {\n    for p in @READ@ { if std::fs::read(p).is_ok() { println!(\"LEAKED {p}\"); } }\n"
                         "    std::process::exit(1);\n}\n", ""),
        "write_outside": ("fn main() {\n    for p in @WRITE@ { if std::fs::write(p, \"pwned\").is_ok() { println!(\"WROTE {p}\"); } }\n}\n", ""),
        "background_process": ("fn main() {\n    let _ = std::process::Command::new(\"setsid\").arg(\"sleep\").arg(\"1000\").spawn();\n"
                               "    let _ = std::process::Command::new(\"sleep\").arg(\"1000\").spawn();\n}\n", ""),
        "huge_output": ("use std::io::Write;\nfn main() {\n    let l = \"x\".repeat(1023) + \"\\n\";\n    let mut o = std::io::stdout().lock();\n"
                        "    for _ in 0..100 * 1024 { o.write_all(l.as_bytes()).unwrap(); }\n}\n", ""),
        "ignores_sigterm": ("fn main() {\n    let _c = std::process::Command::new(\"/bin/sh\").arg(\"-c\")\n"
                            "        .arg(\"trap '' TERM; while :; do :; done\").spawn().unwrap();\n"
                            "    let mut i: u64 = 0;\n    loop { i = i.wrapping_add(1); std::hint::black_box(i); }\n}\n", ""),
    },
    "go": {
        "infinite_loop": ("func main() {\n\tfor {\n\t}\n}\n", ""),
        "fork_bomb": ("import \"os/exec\"\n\nfunc main() {\n\tfor {\n\t\texec.Command(\"/bin/sh\", \"-c\", \"while :; do :; done\").Start()\n\t}\n}\n", ""),
        "memory_bomb": ("func main() {\n\tvar keep [][]byte\n\tfor {\n\t\tb := make([]byte, 1<<24)\n\t\tfor i := range b {\n\t\t\tb[i] = 1\n"
                        "\t\t}\n\t\tkeep = append(keep, b)\n\t}\n}\n", ""),
        "big_file": ("import \"os\"\n\nfunc main() {\n\tf, err := os.Create(\"big.bin\")\n\tif err != nil {\n\t\tpanic(err)\n\t}\n"
                     "\tb := make([]byte, 1<<20)\n\tfor i := 0; i < 1024; i++ {\n\t\tif _, err := f.Write(b); err != nil {\n\t\t\tpanic(err)\n"
                     "\t\t}\n\t}\n}\n", ""),
        "network": ("import (\n\t\"fmt\"\n\t\"net\"\n\t\"time\"\n)\n\nfunc main() {\n\tc, err := net.DialTimeout(\"tcp\", \"1.1.1.1:80\", 2*time.Second)\n"
                    "\tif err != nil {\n\t\tpanic(err)\n\t}\n\tc.Close()\n\tfmt.Println(\"CONNECTED\")\n}\n", ""),
        "read_outside": ("import (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n\tfor _, p := range @READ@ {\n"
                         "\t\tif _, err := os.ReadFile(p); err == nil {\n\t\t\tfmt.Println(\"LEAKED\", p)\n\t\t}\n\t}\n\tos.Exit(1)\n}\n", ""),
        "write_outside": ("import (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n\tfor _, p := range @WRITE@ {\n"
                          "\t\tif err := os.WriteFile(p, []byte(\"pwned\"), 0644); err == nil {\n\t\t\tfmt.Println(\"WROTE\", p)\n\t\t}\n\t}\n}\n", ""),
        "background_process": ("import (\n\t\"os/exec\"\n\t\"syscall\"\n)\n\nfunc main() {\n\tc := exec.Command(\"sleep\", \"1000\")\n"
                               "\tc.SysProcAttr = &syscall.SysProcAttr{Setsid: true}\n\tc.Start()\n}\n", ""),
        "huge_output": ("import (\n\t\"os\"\n\t\"strings\"\n)\n\nfunc main() {\n\tl := []byte(strings.Repeat(\"x\", 1023) + \"\\n\")\n"
                        "\tfor i := 0; i < 100*1024; i++ {\n\t\tos.Stdout.Write(l)\n\t}\n}\n", ""),
        "ignores_sigterm": ("import (\n\t\"os/signal\"\n\t\"syscall\"\n)\n\nfunc main() {\n\tsignal.Ignore(syscall.SIGTERM)\n\tfor {\n\t}\n}\n", ""),
    },
    "java": {
        "infinite_loop": ("public class Main { public static void main(String[] a) { long i = 0; while (true) { i++; } } }\n", ""),
        "fork_bomb": ("public class Main { public static void main(String[] a) {\n    while (true) {\n"
                      "        try { new ProcessBuilder(\"/bin/sh\", \"-c\", \"while :; do :; done\").start(); } catch (Exception e) { }\n"
                      "    }\n} }\n", ""),
        "memory_bomb": ("import java.util.*;\npublic class Main { public static void main(String[] a) {\n"
                        "    List<byte[]> keep = new ArrayList<>();\n    while (true) keep.add(new byte[1 << 24]);\n} }\n", ""),
        "big_file": ("import java.io.*;\npublic class Main { public static void main(String[] a) throws Exception {\n"
                     "    try (FileOutputStream f = new FileOutputStream(\"big.bin\")) {\n        byte[] b = new byte[1 << 20];\n"
                     "        for (int i = 0; i < 1024; i++) f.write(b);\n    }\n} }\n", ""),
        "network": ("import java.net.*;\npublic class Main { public static void main(String[] a) throws Exception {\n"
                    "    try (Socket s = new Socket()) { s.connect(new InetSocketAddress(\"1.1.1.1\", 80), 2000); System.out.println(\"CONNECTED\"); }\n} }\n", ""),
        "read_outside": ("import java.nio.file.*;\npublic class Main { public static void main(String[] a) {\n"
                         "    for (String p : new String[] @READ@) {\n        try { Files.readAllBytes(Paths.get(p)); System.out.println(\"LEAKED \" + p); }\n"
                         "        catch (Exception e) { }\n    }\n    System.exit(1);\n} }\n", ""),
        "write_outside": ("import java.nio.file.*;\npublic class Main { public static void main(String[] a) {\n"
                          "    for (String p : new String[] @WRITE@) {\n        try { Files.write(Paths.get(p), \"pwned\".getBytes()); System.out.println(\"WROTE \" + p); }\n"
                          "        catch (Exception e) { }\n    }\n} }\n", ""),
        "background_process": ("public class Main { public static void main(String[] a) throws Exception {\n"
                               "    new ProcessBuilder(\"setsid\", \"sleep\", \"1000\").start();\n} }\n", ""),
        "huge_output": ("public class Main { public static void main(String[] a) {\n    String l = \"x\".repeat(1023);\n"
                        "    for (int i = 0; i < 100 * 1024; i++) System.out.println(l);\n} }\n", ""),
        "ignores_sigterm": ("public class Main { public static void main(String[] a) {\n"
                            "    sun.misc.Signal.handle(new sun.misc.Signal(\"TERM\"), s -> { });\n    while (true) { }\n} }\n", ""),
    },
    "csharp": {
        "infinite_loop": ("class P { static void Main() { long i = 0; while (true) { i++; } } }\n", ""),
        "fork_bomb": ("class P { static void Main() {\n    while (true) {\n"
                      "        try { System.Diagnostics.Process.Start(\"/bin/sh\", \"-c 'while :; do :; done'\"); } catch { }\n    }\n} }\n", ""),
        "memory_bomb": ("using System.Collections.Generic;\nclass P { static void Main() {\n    var keep = new List<byte[]>();\n"
                        "    while (true) { var b = new byte[1 << 24]; for (int i = 0; i < b.Length; i += 4096) b[i] = 1; keep.Add(b); }\n} }\n", ""),
        "big_file": ("class P { static void Main() {\n    using (var f = System.IO.File.Create(\"big.bin\")) {\n"
                     "        var b = new byte[1 << 20];\n        for (int i = 0; i < 1024; i++) f.Write(b, 0, b.Length);\n    }\n} }\n", ""),
        "network": ("class P { static void Main() {\n    var c = new System.Net.Sockets.TcpClient();\n    c.Connect(\"1.1.1.1\", 80);\n"
                    "    System.Console.WriteLine(\"CONNECTED\");\n} }\n", ""),
        "read_outside": ("class P { static int Main() {\n    foreach (var p in new[] @READ@) {\n"
                         "        try { System.IO.File.ReadAllBytes(p); System.Console.WriteLine(\"LEAKED \" + p); } catch { }\n    }\n    return 1;\n} }\n", ""),
        "write_outside": ("class P { static void Main() {\n    foreach (var p in new[] @WRITE@) {\n"
                          "        try { System.IO.File.WriteAllText(p, \"pwned\"); System.Console.WriteLine(\"WROTE \" + p); } catch { }\n    }\n} }\n", ""),
        "background_process": ("class P { static void Main() { System.Diagnostics.Process.Start(\"setsid\", \"sleep 1000\"); } }\n", ""),
        "huge_output": ("class P { static void Main() {\n    var l = new string('x', 1023);\n    var o = System.Console.Out;\n"
                        "    for (int i = 0; i < 100 * 1024; i++) o.WriteLine(l);\n} }\n", ""),
        "ignores_sigterm": ("class P { static void Main() {\n"
                            "    System.Diagnostics.Process.Start(\"/bin/sh\", \"-c \\\"trap '' TERM; while :; do :; done\\\"\");\n"
                            "    long i = 0;\n    while (true) { i++; }\n} }\n", ""),
    },
    "php": {
        "infinite_loop": ("<?php\nwhile (true) {}\n", ""),
        "fork_bomb": ("<?php\nwhile (true) { @proc_open('while :; do :; done', [], $pipes); }\n", ""),
        "memory_bomb": ("<?php\n$keep = [];\nwhile (true) { $keep[] = str_repeat('x', 1 << 24); }\n", ""),
        "big_file": ("<?php\n$f = fopen('big.bin', 'w');\n$b = str_repeat('x', 1 << 20);\n"
                     "for ($i = 0; $i < 1024; $i++) { if (fwrite($f, $b) === false) { throw new Exception('write failed'); } }\n", ""),
        "network": ("<?php\n$s = @fsockopen('1.1.1.1', 80, $errno, $errstr, 2);\n"
                    "if ($s) { echo \"CONNECTED\\n\"; } else { throw new Exception(\"connect: $errstr\"); }\n", ""),
        "read_outside": ("<?php\nforeach (@READ@ as $p) { if (@file_get_contents($p) !== false) { echo \"LEAKED $p\\n\"; } }\nexit(1);\n", ""),
        "write_outside": ("<?php\nforeach (@WRITE@ as $p) { if (@file_put_contents($p, 'pwned') !== false) { echo \"WROTE $p\\n\"; } }\n", ""),
        "background_process": ("<?php\nexec('setsid sleep 1000 > /dev/null 2>&1 &');\n", ""),
        "huge_output": ("<?php\n$l = str_repeat('x', 1023) . \"\\n\";\nfor ($i = 0; $i < 100 * 1024; $i++) { echo $l; }\n", ""),
        "ignores_sigterm": ("<?php\n$p = proc_open(\"trap '' TERM; while :; do :; done\", [], $pipes);\nwhile (true) {}\n", ""),
    },
    # Bash: the hostile commands are the tests, which run under `set -e`.
    "bash": {
        "infinite_loop": ("", "while :; do :; done\n"),
        "fork_bomb": ("bomb() { bomb & bomb; }\n", "bomb\n"),
        "memory_bomb": ("", "printf -v x '%*s' 4000000 ''\nwhile :; do x=\"$x$x\"; done\n"),
        "big_file": ("", "head -c 1073741824 /dev/zero > big.bin\n"),
        "network": ("", "exec 3<>/dev/tcp/1.1.1.1/80\necho CONNECTED\n"),
        "read_outside": ("", "for p in @READ@; do if cat \"$p\" > /dev/null 2>&1; then echo \"LEAKED $p\"; fi; done\nexit 1\n"),
        "write_outside": ("", "for p in @WRITE@; do if { echo pwned > \"$p\"; } 2> /dev/null; then echo \"WROTE $p\"; fi; done\n"),
        "background_process": ("", "setsid sleep 1000 &\nnohup sleep 1000 > /dev/null 2>&1 &\n"),
        "huge_output": ("", "yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -c 104857600\n"),
        "ignores_sigterm": ("", "trap '' TERM\nwhile :; do :; done\n"),
    },
    "prolog": {
        "infinite_loop": ("loop :- loop.\n", "loop.\n"),
        "fork_bomb": (":- use_module(library(unix)).\nbomb :- catch(fork(_), _, true), bomb.\n", "bomb.\n"),
        "memory_bomb": ("grow(L) :- length(X, 1000000), grow([X|L]).\n", "grow([]).\n"),
        "big_file": ("big :- open('big.bin', write, S), length(L, 1048576), maplist(=(0'x), L), atom_codes(A, L),\n"
                     "    forall(between(1, 1024, _), write(S, A)), close(S).\n", "big.\n"),
        "network": (":- use_module(library(socket)).\nnet :- tcp_connect('1.1.1.1':80, S, []), close(S), writeln('CONNECTED').\n", "net.\n"),
        "read_outside": ("leak(P) :- catch((read_file_to_string(P, _, []), format('LEAKED ~w~n', [P])), _, true).\n"
                         "leak_all :- forall(member(P, @READ@), leak(P)), fail.\n", "leak_all.\n"),
        "write_outside": ("wr(P) :- catch((open(P, write, S), write(S, pwned), close(S), format('WROTE ~w~n', [P])), _, true).\n"
                          "write_all :- forall(member(P, @WRITE@), wr(P)).\n", "write_all.\n"),
        "background_process": (":- use_module(library(process)).\n"
                               "bg :- process_create(path(setsid), [sleep, '1000'], [detached(true)]).\n", "bg.\n"),
        "huge_output": ("out :- length(L, 1023), maplist(=(0'x), L), atom_codes(A, L),\n"
                        "    forall(between(1, 102400, _), (write(A), nl)).\n", "out.\n"),
        "ignores_sigterm": ("ignore_signal(_).\n:- on_signal(term, _, ignore_signal).\nspin :- spin.\n", "spin.\n"),
    },
}


# LLVM IR: the C++ cases, compiled to IR on the host by ``fill`` (compiling runs nothing) with their
# ``main`` renamed, called from a C++ test program: the IR itself does the hostile thing.
IR_FROM_CPP = "; compile the C++ below to IR\n"
CASES["llvm_ir"] = {case: (IR_FROM_CPP + prog, 'extern "C" int hostile_main();\nint main() { return hostile_main(); }\n')
                    for case, (prog, _) in CASES["cpp"].items()}


def cpp_to_ir(cpp: str) -> str:
    cpp = cpp.replace("int main()", 'extern "C" int hostile_main()')
    if not re.search(r"return [^;]*;\s*\}\s*$", cpp):  # main's implicit return 0, made explicit
        cpp = cpp.rstrip()[:-1] + "    return 0;\n}\n"
    clang = shutil.which("clang++") or "clang++"
    return subprocess.run([clang, "-S", "-emit-llvm", "-O0", "-w", "-x", "c++", "-", "-o", "-"], input=cpp,
                          capture_output=True, text=True, check=True).stdout


def literal(language: str, paths: list[str]) -> str:
    """A list/array of strings in the language's syntax."""
    if language == "bash":
        return " ".join("'" + p.replace("'", "'\\''") + "'" for p in paths)
    if language == "prolog":
        return "[" + ", ".join("'" + p.replace("'", "\\'") + "'" for p in paths) + "]"
    quoted = ", ".join(json.dumps(p) for p in paths)
    if language in ("cpp", "java", "csharp"):
        return "{" + quoted + "}"
    if language == "go":
        return "[]string{" + quoted + "}"
    if language == "php":
        return "[" + quoted + "]"
    return "[" + quoted + "]"


def fill(language: str, text: str, read: list[str], write: list[str]) -> str:
    if language == "llvm_ir" and text.startswith(IR_FROM_CPP):
        return cpp_to_ir(fill("cpp", text[len(IR_FROM_CPP):], read, write))
    return text.replace("@READ@", literal(language, read)).replace("@WRITE@", literal(language, write))
