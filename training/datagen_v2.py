"""The second data stream (bundled model v2): the first stream's families, counts of every length
from 2, tool calls in the Qwen3 format with their round trips, and JSON shaped by a schema.

`make_example_v2(seed, index)` is, like `datagen.make_example`, a pure function of its arguments;
the first stream is left exactly as it was (its held-out set is committed). An example is the
first stream's dict, plus `tools` (OpenAI function definitions) where tools are offered:

    {"family", "messages", "answer", "check", "tools"?}

Messages are OpenAI's: an assistant message may carry `tool_calls` ([{"type": "function",
"function": {"name", "arguments": {...}}}]) with empty content, and `tool` messages carry a
tool's result (JSON text). Checks: `exact`, `final_line` (datagen.py) and `tool_calls`: the
reply's <tool_call> blocks, parsed, equal `answer` (a list of {"name", "arguments"}) in order.

New families:
  tools   a call for one tool; the round trip (call, the tool's result, the answer that uses it);
          two independent questions answered by parallel calls (and their round trip); tools
          offered where the right reply is plain text. Tools: get_weather (a table), add,
          multiply, get_capital, convert_case;
  schema  a JSON object shaped by a JSON Schema in the system prompt: the keys it names in its
          order, their types, enums, optional keys left out when the facts lack them;
  count   (replaces the first stream's) every length from 2 to 200 in every style, a third of
          the draws 2 to 12 long, so that a count's end is learned at every length.
"""

import json
import random

import datagen
from datagen import CAPITALS, COLOR_WORDS, COUNT_STYLES, PETS, SYSTEM_PROMPTS, WORDS, _join

# ----------------------------------------------------------------------------------------------
# Counts of every length.

MAX_COUNT = 200
MAX_COUNT_CHARS = 900  # a reply's characters; the tokenizer spends about one token a character


def count_length(rng):
    """2-12 a third of the time, 13-64 two fifths, 65-200 the rest."""
    r = rng.random()
    if r < 0.34:
        return rng.randint(2, 12)
    if r < 0.74:
        return rng.randint(13, 64)
    return rng.randint(65, MAX_COUNT)


def count_sequence(kind, n, rng):
    if kind == "up":
        a = rng.choice([1, 1, 1, 0] + list(range(2, 120)))
        return list(range(a, a + n))
    if kind == "down":
        b = rng.choice([1, 1, 0] + list(range(2, 80)))
        return list(range(b + n - 1, b - 1, -1))
    k = rng.choice([2, 3, 5, 10])
    a = rng.choice([0, k, k, rng.randint(1, 30)])
    return [a + k * i for i in range(n)]


def gen_count_v2(rng, max_chars=MAX_COUNT_CHARS):
    style = rng.choice(list(COUNT_STYLES))
    kind, fmt = COUNT_STYLES[style]
    seq = count_sequence(kind, count_length(rng), rng)
    while len(_join(seq)) > max_chars:  # long steps of 4-digit numbers: kept inside the context
        seq = seq[:-1]
    prompt = fmt.format(a=seq[0], b=seq[-1], k=seq[1] - seq[0])
    reply = _join(seq)
    return "count", prompt, reply, reply, "exact"


# ----------------------------------------------------------------------------------------------
# Tools: definitions, their implementations, and the conversations that use them.

CONDITIONS = ["sunny", "cloudy", "rainy", "windy", "snowy", "foggy"]
# The weather "now" in each capital: a table, so a result can be checked.
WEATHER = {cap: (CONDITIONS[i % len(CONDITIONS)], (i * 7) % 36 - 5)
           for i, (_, cap) in enumerate(CAPITALS)}


def _function(name, description, properties, required):
    return {"type": "function", "function": {
        "name": name, "description": description,
        "parameters": {"type": "object", "properties": properties, "required": required}}}


TOOLS = {
    "get_weather": _function("get_weather", "Get the current weather in a city.",
                             {"city": {"type": "string", "description": "The city's name"}},
                             ["city"]),
    "add": _function("add", "Add two integers.",
                     {"a": {"type": "integer"}, "b": {"type": "integer"}}, ["a", "b"]),
    "multiply": _function("multiply", "Multiply two integers.",
                          {"a": {"type": "integer"}, "b": {"type": "integer"}}, ["a", "b"]),
    "get_capital": _function("get_capital", "Look up the capital city of a country.",
                             {"country": {"type": "string"}}, ["country"]),
    "convert_case": _function("convert_case", "Convert text to upper, lower or title case.",
                              {"text": {"type": "string"},
                               "case": {"type": "string", "enum": ["upper", "lower", "title"]}},
                              ["text", "case"]),
}
CAPITAL_OF = dict(CAPITALS)
# Places the tools family asks about only in the held-out stream (EVAL_SEED_V2), so that a held-out
# question ("What is the weather in Oslo?") is never a training question, whatever else differs.
EVAL_SEED_V2 = 3
HELD_OUT_COUNTRIES = [c for c, _ in CAPITALS[::5]]
HELD_OUT_CITIES = [cap for _, cap in CAPITALS[::5]]


def places(held_out):
    """(cities, countries) the tools family may ask about in this stream."""
    if held_out:
        return HELD_OUT_CITIES, HELD_OUT_COUNTRIES
    return ([cap for cap in WEATHER if cap not in HELD_OUT_CITIES],
            [c for c in CAPITAL_OF if c not in HELD_OUT_COUNTRIES])


def run_tool(name, args):
    """A tool's result (a dict, sent as JSON in the tool message)."""
    if name == "get_weather":
        cond, temp = WEATHER[args["city"]]
        return {"city": args["city"], "condition": cond, "temperature_c": temp}
    if name == "add":
        return {"result": args["a"] + args["b"]}
    if name == "multiply":
        return {"result": args["a"] * args["b"]}
    if name == "get_capital":
        return {"country": args["country"], "capital": CAPITAL_OF[args["country"]]}
    text, case = args["text"], args["case"]
    return {"result": text.upper() if case == "upper" else text.lower() if case == "lower"
            else " ".join(w.capitalize() for w in text.split(" "))}


def ask(rng, name, held_out=False):
    """(question, arguments, answer sentence from a result) for one use of tool `name`."""
    cities, countries = places(held_out)
    if name == "get_weather":
        city = rng.choice(cities)
        q = rng.choice(["What is the weather in {c}?", "How is the weather in {c} right now?",
                        "Is it sunny in {c}?"]).format(c=city)
        return q, {"city": city}, lambda r: (f"It is {r['condition']} in {r['city']}, "
                                             f"{r['temperature_c']} degrees Celsius.")
    if name in ("add", "multiply"):
        a, b = rng.randint(2, 999), rng.randint(2, 999)
        if name == "add":
            q = rng.choice(["What is {a} plus {b}?", "Add {a} and {b} with the tool."])
            return q.format(a=a, b=b), {"a": a, "b": b}, \
                lambda r: f"{a} plus {b} is {r['result']}."
        q = rng.choice(["What is {a} times {b}?", "Multiply {a} by {b} with the tool."])
        return q.format(a=a, b=b), {"a": a, "b": b}, lambda r: f"{a} times {b} is {r['result']}."
    if name == "get_capital":
        country = rng.choice(countries)
        q = rng.choice(["Look up the capital of {c}.", "Use the tool: what is the capital of {c}?"])
        return q.format(c=country), {"country": country}, \
            lambda r: f"The capital of {r['country']} is {r['capital']}."
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
    case = rng.choice(["upper", "lower", "title"])
    q = rng.choice(["Convert '{t}' to {c} case.", "Put '{t}' in {c} case."]).format(t=text, c=case)
    return q, {"text": text, "case": case}, lambda r: f"In {case} case: {r['result']}."


def call_message(calls):
    return {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": n, "arguments": a}} for n, a in calls]}


def offered(rng, needed):
    """The tools a request offers: the needed ones and others up to three in all (a tool's
    definition is ~110-160 tokens, the preamble 173: the prompt stays well inside the context),
    in a random order."""
    others = [t for t in TOOLS if t not in needed]
    names = list(needed) + rng.sample(others, rng.randint(0, 3 - len(needed)))
    rng.shuffle(names)
    return [TOOLS[n] for n in names]


def tool_result_text(rng, result):
    """A tool's result as an agent sends it: json.dumps' spacing, or compact (JSON.stringify)."""
    return json.dumps(result) if rng.random() < 0.7 else json.dumps(result, separators=(",", ":"))


def gen_tools(rng, held_out=False):
    """(messages, tools, answer, check) of one tools conversation; `held_out`: the held-out
    stream's places."""
    kind = rng.choices(["call", "round trip", "parallel", "parallel round trip", "plain"],
                       weights=[3, 4, 2, 2, 2])[0]
    if kind == "plain":  # tools offered, none of them fits: the first stream's reply
        fam = rng.choice(["count", "sort", "reverse", "repeat", "spell", "refuse"])
        gen = datagen.SINGLE_TURN[fam][0]
        _, prompt, reply, answer, check = gen(rng, max_chars=240) if fam == "count" else gen(rng)
        tools = offered(rng, rng.sample(list(TOOLS), rng.randint(1, 3)))
        return [{"role": "user", "content": prompt},
                {"role": "assistant", "content": reply}], tools, answer, check
    names = rng.sample(list(TOOLS), 2 if kind.startswith("parallel") else 1)
    asked = [ask(rng, n, held_out) for n in names]
    question = asked[0][0] if len(asked) == 1 else \
        f"{asked[0][0][:-1]}, and {asked[1][0][0].lower()}{asked[1][0][1:]}"
    calls = [(n, a[1]) for n, a in zip(names, asked)]
    msgs = [{"role": "user", "content": question}, call_message(calls)]
    if not kind.endswith("round trip"):
        return msgs, offered(rng, names), [{"name": n, "arguments": a} for n, a in calls], \
            "tool_calls"
    results = [run_tool(n, a) for n, a in calls]
    msgs += [{"role": "tool", "content": tool_result_text(rng, r)} for r in results]
    answer = " ".join(a[2](r) for a, r in zip(asked, results))
    msgs.append({"role": "assistant", "content": answer})
    return msgs, offered(rng, names), answer, "exact"


# ----------------------------------------------------------------------------------------------
# JSON shaped by a schema.

LEVELS = ["low", "medium", "high"]
SCHEMA_FIELDS = {  # key: (schema, fact phrasing)
    "name": ({"type": "string"}, "the name is {v}"),
    "age": ({"type": "integer"}, "the age is {v}"),
    "city": ({"type": "string"}, "the city is {v}"),
    "color": ({"type": "string", "enum": COLOR_WORDS}, "the favourite color is {v}"),
    "pet": ({"type": "string", "enum": PETS}, "the pet is a {v}"),
    "score": ({"type": "integer"}, "the score is {v}"),
    "member": ({"type": "boolean"}, "{v}"),
    "level": ({"type": "string", "enum": LEVELS}, "the level is {v}"),
}


def schema_value(rng, key):
    if key == "member":
        return rng.random() < 0.5
    if key == "level":
        return rng.choice(LEVELS)
    return datagen._json_value(rng, key)


def gen_schema(rng):
    keys = rng.sample(list(SCHEMA_FIELDS), rng.randint(2, 5))
    required = [k for k in keys if rng.random() < 0.7] or keys[:1]
    schema = {"type": "object", "properties": {k: SCHEMA_FIELDS[k][0] for k in keys},
              "required": required}
    given = [k for k in keys if k in required or rng.random() < 0.5]  # optional: maybe absent
    values = {k: schema_value(rng, k) for k in given}
    facts = [("is a member" if values[k] else "is not a member") if k == "member"
             else SCHEMA_FIELDS[k][1].format(v=values[k]) for k in given]
    rng.shuffle(facts)  # the reply follows the schema's order, not the facts'
    system = rng.choice(["Reply with a JSON object that matches this schema: {s}",
                         "Answer only with JSON following this JSON Schema: {s}"]).format(
        s=json.dumps(schema))
    joined = "; ".join(facts)
    prompt = rng.choice(["Facts: {f}.", "Make the object: {f}.", "{F}."]).format(
        f=joined, F=joined[0].upper() + joined[1:])  # names keep their case
    reply = json.dumps({k: values[k] for k in keys if k in values})
    return [{"role": "system", "content": system}, {"role": "user", "content": prompt},
            {"role": "assistant", "content": reply}], reply


# ----------------------------------------------------------------------------------------------
# The stream.

NEW_FAMILIES = {"tools": 6, "schema": 3}
FAMILIES_V2 = datagen.FAMILIES + list(NEW_FAMILIES)
FAMILY_WEIGHTS_V2 = [6 if f == "count" else w for f, w in
                     zip(datagen.FAMILIES, datagen.FAMILY_WEIGHTS)] + list(NEW_FAMILIES.values())


def make_example_v2(seed, index):
    """The example number `index` of the second stream `seed`; a pure function of its arguments."""
    rng = random.Random(f"wedlm-data-v2/{seed}/{index}")
    fam = rng.choices(FAMILIES_V2, weights=FAMILY_WEIGHTS_V2)[0]
    tools = None
    if fam == "tools":
        msgs, tools, answer, check = gen_tools(rng, held_out=seed == EVAL_SEED_V2)
    elif fam == "schema":
        msgs, answer = gen_schema(rng)
        check = "exact"
    elif fam == "followup":
        fam, msgs, answer, check = datagen.gen_followup(rng)
    else:
        gen = gen_count_v2 if fam == "count" else datagen.SINGLE_TURN[fam][0]
        fam, prompt, reply, answer, check = gen(rng)
        msgs = [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]
    if fam != "schema" and rng.random() < 0.3:
        msgs = [{"role": "system", "content": rng.choice(SYSTEM_PROMPTS)}] + msgs
    example = {"family": fam, "messages": msgs, "answer": answer, "check": check}
    if tools:
        example["tools"] = tools
    return example


def question_key(example):
    """What a training example must not share with a held-out one: its user turns' text (a
    question asked again under another system prompt, or inside a round trip, is the same)."""
    return json.dumps([m["content"] for m in example["messages"] if m["role"] == "user"])


def eval_set_v2(per_family=30, seed=EVAL_SEED_V2):
    """The first `per_family` examples of each new family in the stream `seed` (the held-out
    seed of the second stream; training uses another)."""
    want = {f: per_family for f in NEW_FAMILIES}
    out, i = [], 0
    while any(want.values()):
        e = make_example_v2(seed, i)
        i += 1
        if want.get(e["family"], 0) > 0:
            want[e["family"]] -= 1
            out.append(e)
    return out

