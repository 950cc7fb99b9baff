"""HumanEval-X solutions run against translated tests: the program that answers our prompt by calling
HumanEval-X's canonical solution (its own name, parameter and result types) through a converter.

``adapt(language, problem, hx_row)`` gives ``(program, tests)`` for the judge's generic layout, or
None where HumanEval-X's code cannot be reached (an external crate, overloads). Used to check that
translated tests accept a correct program (JavaScript, TypeScript, C++, Java, Go, Rust).
"""

from __future__ import annotations

import re

from oorl.data.test_translate import emitters
from oorl.data.test_translate.pyside import Problem

_CPP_CONV = r"""
namespace oorl {
template<class To> struct Conv { template<class F> static To go(const F& f) { return static_cast<To>(f); } };
template<> struct Conv<std::string> { static std::string go(const std::string& f) { return f; } };
template<class T> struct Conv<std::vector<T>> { template<class F> static std::vector<T> go(const std::vector<F>& f) {
    std::vector<T> r; for (const auto& x : f) r.push_back(Conv<T>::go(x)); return r; } };
template<class T> struct Conv<std::optional<T>> {
    template<class F> static std::optional<T> go(const std::optional<F>& f) { if (!f) return std::nullopt; return Conv<T>::go(*f); }
    template<class F> static std::optional<T> go(const F& f) { return Conv<T>::go(f); } };
template<class... T> struct Conv<std::tuple<T...>> {
    template<class Tup, size_t... I> static std::tuple<T...> t_(const Tup& f, std::index_sequence<I...>) {
        return std::tuple<T...>(Conv<T>::go(std::get<I>(f))...); }
    template<class V, size_t... I> static std::tuple<T...> v_(const V& f, std::index_sequence<I...>) {
        return std::tuple<T...>(Conv<T>::go(f.at(I))...); }
    template<class... F> static std::tuple<T...> go(const std::tuple<F...>& f) { return t_(f, std::index_sequence_for<T...>{}); }
    template<class A, class B> static std::tuple<T...> go(const std::pair<A, B>& f) { return t_(f, std::index_sequence_for<T...>{}); }
    template<class F> static std::tuple<T...> go(const std::vector<F>& f) { return v_(f, std::index_sequence_for<T...>{}); } };
template<class K, class V> struct Conv<std::map<K, V>> { template<class M> static std::map<K, V> go(const M& m) {
    std::map<K, V> r; for (const auto& kv : m) r[Conv<K>::go(kv.first)] = Conv<V>::go(kv.second); return r; } };
template<class R, class... A, class... B> R call(R (*f)(A...), const B&... b) { return f(Conv<std::decay_t<A>>::go(b)...); }
}
"""

_JAVA_CONV = r"""
class OorlConv {
    static Object call(String mine, String theirs, Object... args) {
        try {
            java.lang.reflect.Method target = null, src = null;
            for (java.lang.reflect.Method m : Problem.class.getDeclaredMethods()) if (m.getName().equals(mine)) target = m;
            for (java.lang.reflect.Method m : Solution.class.getDeclaredMethods())
                if (m.getName().equals(theirs) && m.getParameterCount() == args.length) src = m;
            src.setAccessible(true);
            java.lang.reflect.Type[] pts = src.getGenericParameterTypes();
            Object[] in = new Object[args.length];
            for (int i = 0; i < args.length; i++) in[i] = conv(args[i], pts[i]);
            Object self = java.lang.reflect.Modifier.isStatic(src.getModifiers()) ? null : new Solution();
            return conv(src.invoke(self, in), target.getGenericReturnType());
        } catch (java.lang.reflect.InvocationTargetException e) {
            throw new RuntimeException(e.getCause());
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }
    static Class<?> raw(java.lang.reflect.Type t) {
        if (t instanceof java.lang.reflect.ParameterizedType) return (Class<?>) ((java.lang.reflect.ParameterizedType) t).getRawType();
        return t instanceof Class ? (Class<?>) t : Object.class;
    }
    static java.lang.reflect.Type arg(java.lang.reflect.Type t, int i) {
        return t instanceof java.lang.reflect.ParameterizedType ? ((java.lang.reflect.ParameterizedType) t).getActualTypeArguments()[i] : Object.class;
    }
    static List<Object> items(Object v) {
        List<Object> l = new ArrayList<>();
        if (v instanceof Collection) l.addAll((Collection<?>) v);
        else if (v instanceof org.javatuples.Tuple) l.addAll(((org.javatuples.Tuple) v).toList());
        else if (v != null && v.getClass().isArray()) for (int i = 0; i < java.lang.reflect.Array.getLength(v); i++) l.add(java.lang.reflect.Array.get(v, i));
        return l;
    }
    static Object conv(Object v, java.lang.reflect.Type t) throws Exception {
        Class<?> c = raw(t);
        if (c == Optional.class) {
            if (v instanceof Optional) v = ((Optional<?>) v).orElse(null);
            return v == null ? Optional.empty() : Optional.of(conv(v, arg(t, 0)));
        }
        if (v instanceof Optional) v = ((Optional<?>) v).orElse(null);
        if (v == null) return null;
        if (c == long.class || c == Long.class) return ((Number) v).longValue();
        if (c == int.class || c == Integer.class) return ((Number) v).intValue();
        if (c == double.class || c == Double.class) return ((Number) v).doubleValue();
        if (c == float.class || c == Float.class) return ((Number) v).floatValue();
        if (Map.class.isAssignableFrom(c)) {
            Map<Object, Object> m = new HashMap<>();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) m.put(conv(e.getKey(), arg(t, 0)), conv(e.getValue(), arg(t, 1)));
            return m;
        }
        if (Collection.class.isAssignableFrom(c)) {
            ArrayList<Object> l = new ArrayList<>();
            for (Object x : items(v)) l.add(conv(x, arg(t, 0)));
            return l;
        }
        if (org.javatuples.Tuple.class.isAssignableFrom(c)) {
            List<Object> src = items(v), l = new ArrayList<>();
            for (int i = 0; i < src.size(); i++) l.add(conv(src.get(i), arg(t, i)));
            return c.getMethod("fromCollection", Collection.class).invoke(null, l);
        }
        return v;
    }
}
"""

_GO_CONV = r"""
func oorlConv(v reflect.Value, t reflect.Type) reflect.Value {
	if v.IsValid() && v.Kind() == reflect.Interface {
		if v.IsNil() {
			return reflect.Zero(t)
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		return reflect.Zero(t)
	}
	if t.Kind() == reflect.Interface {
		return v
	}
	switch t.Kind() {
	case reflect.Slice:
		out := reflect.MakeSlice(t, v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(oorlConv(v.Index(i), t.Elem()))
		}
		return out
	case reflect.Array:
		out := reflect.New(t).Elem()
		for i := 0; i < t.Len() && i < v.Len(); i++ {
			out.Index(i).Set(oorlConv(v.Index(i), t.Elem()))
		}
		return out
	case reflect.Map:
		out := reflect.MakeMap(t)
		for _, k := range v.MapKeys() {
			out.SetMapIndex(oorlConv(k, t.Key()), oorlConv(v.MapIndex(k), t.Elem()))
		}
		return out
	}
	if v.Type().ConvertibleTo(t) {
		return v.Convert(t)
	}
	return v
}

func oorlCall(f interface{}, args ...interface{}) reflect.Value {
	fv := reflect.ValueOf(f)
	in := make([]reflect.Value, len(args))
	for i, a := range args {
		in[i] = oorlConv(reflect.ValueOf(a), fv.Type().In(i))
	}
	return fv.Call(in)[0]
}
"""

_GO_PACKAGES = ("math", "strings", "fmt", "strconv", "sort", "unicode", "regexp", "bytes", "math/rand", "crypto/md5",
                "errors", "math/big", "container/heap", "time")
_RUST_NUMS = ("isize", "i32", "i64", "u32", "u64", "usize", "f32", "f64", "i8", "u8", "i16", "u16", "i128", "u128")
_RUST_CONV = (
    "trait OorlConv<T> { fn conv(self) -> T; }\n"
    + "".join(f"impl OorlConv<{b}> for {a} {{ fn conv(self) -> {b} {{ self as {b} }} }}\n" for a in _RUST_NUMS for b in _RUST_NUMS)
    + "impl OorlConv<bool> for bool { fn conv(self) -> bool { self } }\n"
    "impl OorlConv<char> for char { fn conv(self) -> char { self } }\n"
    "impl OorlConv<String> for String { fn conv(self) -> String { self } }\n"
    "impl OorlConv<&'static str> for String { fn conv(self) -> &'static str { Box::leak(self.into_boxed_str()) } }\n"
    "impl<'a> OorlConv<String> for &'a str { fn conv(self) -> String { self.to_string() } }\n"
    "impl OorlConv<String> for char { fn conv(self) -> String { self.to_string() } }\n"
    + "".join(f"impl OorlConv<Option<{b}>> for {a} {{ fn conv(self) -> Option<{b}> {{ Some(self as {b}) }} }}\n"
              for a in _RUST_NUMS for b in _RUST_NUMS)
    + "impl<A: OorlConv<B>, B> OorlConv<(B, B)> for Vec<A> { fn conv(self) -> (B, B) "
    "{ let mut i = self.into_iter(); (i.next().unwrap().conv(), i.next().unwrap().conv()) } }\n"
    "impl<A: OorlConv<B>, B> OorlConv<Vec<B>> for (A, A) { fn conv(self) -> Vec<B> { vec![self.0.conv(), self.1.conv()] } }\n"
    "impl<A: OorlConv<B>, B: 'static> OorlConv<&'static B> for A { fn conv(self) -> &'static B { Box::leak(Box::new(self.conv())) } }\n"
    "impl<A: OorlConv<B>, B> OorlConv<Vec<B>> for Vec<A> { fn conv(self) -> Vec<B> { self.into_iter().map(|x| x.conv()).collect() } }\n"
    "impl<A: OorlConv<B>, B> OorlConv<Option<B>> for Option<A> { fn conv(self) -> Option<B> { self.map(|x| x.conv()) } }\n"
    "impl<A: OorlConv<C>, B: OorlConv<D>, C, D> OorlConv<(C, D)> for (A, B) { fn conv(self) -> (C, D) { (self.0.conv(), self.1.conv()) } }\n"
    "impl<A: OorlConv<D>, B: OorlConv<E>, C: OorlConv<F>, D, E, F> OorlConv<(D, E, F)> for (A, B, C) "
    "{ fn conv(self) -> (D, E, F) { (self.0.conv(), self.1.conv(), self.2.conv()) } }\n"
    "impl<K: OorlConv<K2>, V: OorlConv<V2>, K2: std::hash::Hash + Eq, V2> OorlConv<std::collections::HashMap<K2, V2>> "
    "for std::collections::HashMap<K, V> { fn conv(self) -> std::collections::HashMap<K2, V2> "
    "{ self.into_iter().map(|(k, v)| (k.conv(), v.conv())).collect() } }\n")


def _last(pattern: str, text: str) -> str | None:
    hits = re.findall(pattern, text, re.MULTILINE)
    return hits[-1] if hits else None


def adapt(language: str, problem: Problem, row: dict, hx: dict) -> tuple[str, str] | None:
    """(program, tests) that answer ``row`` (our translated row of ``problem``) with HumanEval-X's
    solution ``hx``; None when it cannot be wired up."""
    em = emitters()[language]
    names = [em.renames.get(n, n) for n, _ in problem.params]
    code = hx.get("prompt", "") + hx.get("canonical_solution", "")
    if language in ("js", "ts"):
        name = _last(r"const\s+(\w+)\s*=\s*\(", hx["prompt"])
        if name is None:
            return None
        cast = " as any" if language == "ts" else ""
        body = f"  return (oorl_hx{cast})(...Array.from(arguments));\n}}\n"
        extra = "// @ts-nocheck\n" if language == "ts" else ""
        scoped = f"const oorl_hx = (() => {{\n{code}\nreturn {name};\n}})();\n"  # its own names stay inside
        return extra + row["prompt"] + body + scoped, row["tests"]
    if language == "cpp":
        name = _last(r"^[\w:<>, ]+?\b(\w+)\s*\([^;{]*\)\s*\{", hx["declaration"])
        if name is None:
            return None
        includes = "".join(line + "\n" for line in code.split("\n") if line.strip().startswith("#include"))
        body = "\n".join(line for line in code.split("\n") if not line.strip().startswith("#include"))
        ret = em.ctype(problem.returns)
        call = f"    return oorl::Conv<{ret}>::go(oorl::call(hx::{name}{''.join(', ' + n for n in names)}));\n"
        head = "#include<bits/stdc++.h>\n" + includes + f"namespace hx {{\n{body}\n}}\n" + _CPP_CONV
        return head + row["prompt"] + call, row["tests"]
    if language == "java":
        name = _last(r"public\s+(?:static\s+)?[\w<>\[\], ?]+\s+(\w+)\s*\(", hx["declaration"])
        if name is None:
            return None
        body = "\n".join(line for line in code.split("\n") if not line.strip().startswith("import "))
        if body.count("{") > body.count("}"):
            body += "\n}\n"
        ret = em.jtype(problem.returns, boxed=True)
        method = re.search(r"public static \S+(?: \S+)* (\w+)\(", row["prompt"].rstrip().split("\n")[-1])
        call = (f"        return ({ret}) OorlConv.call(\"{method.group(1)}\", \"{name}\""
                f"{''.join(', ' + n for n in names)});\n")
        return row["prompt"] + call + row["tests"] + "\n" + body + "\n" + _JAVA_CONV, ""
    if language == "go":
        name = _last(r"^func\s+(\w+)\s*\(", hx["declaration"])
        if name is None:
            return None
        hx_code = hx["prompt"].replace(hx.get("import") or "\0", "") + hx["canonical_solution"]
        hx_code = re.sub(r'^import\s*(\(.*?\)|"[^"]*")\s*$', "", hx_code, flags=re.S | re.M)
        prompt = re.sub(r"^package main\s*\n\s*import \((.*?)\)\s*\n", "", row["prompt"], flags=re.S)
        mine = re.findall(r'"([\w/]+)"', re.search(r"import \((.*?)\)", row["prompt"], re.S).group(1))
        code_only = re.sub(r"//[^\n]*", "", hx_code)
        used = [p for p in _GO_PACKAGES if p not in mine and re.search(rf"(?<![\w.]){p.split('/')[-1]}\.\w", code_only)]
        imports = "".join(f'    "{p}"\n' for p in [*mine, "reflect", *used])
        ret = em.gotype(problem.returns)
        call = (f"    return oorlConv(oorlCall({name}{''.join(', ' + em.pname(n) for n in names)}), "
                f"reflect.TypeOf((*{ret})(nil)).Elem()).Interface().({ret})\n")
        src = f"package main\n\nimport (\n{imports})\n\n" + prompt + call + row["tests"] + "\n" + hx_code + "\n" + _GO_CONV
        return "", src
    if language == "rs":
        hx_code = hx["declaration"] + hx["canonical_solution"]
        name = problem.entry_point if re.search(rf"fn\s+{problem.entry_point}\s*\(", hx_code) else \
            _last(r"^\s*fn\s+(\w+)\s*\(", hx["declaration"])
        if name is None or name == "main":
            return None
        if re.search(r"\b(rand|regex|md5)::|\bRegex\b|\bRng\b|\bmd5\b", hx["canonical_solution"]):
            return None  # an external crate
        for crate in ("rand", "regex", "md5"):
            hx_code = re.sub(rf"^use {crate}\b.*?;\s*$", "", hx_code, flags=re.M)
        from oorl.data.test_translate.others import _RUST_KEYWORDS

        args = ", ".join((n + "_" if n in _RUST_KEYWORDS else n) + ".conv()" for n, _ in problem.params)
        call = f"    hx::{name}({args}).conv()\n"
        hx_code = re.sub(r"^(\s*)fn\s", r"\1pub fn ", hx_code, flags=re.M)
        mod = "#[allow(unused_imports, dead_code, unused_variables, unused_mut, deprecated)]\nmod hx {\n" + hx_code + "\n}\n"
        return row["prompt"] + call + row["tests"] + "\n" + mod + _RUST_CONV, ""
    return None
