"""The second data stream (training/datagen_v2.py): pure, every answer independently right (tool
calls valid for the tools offered and the results what the tools return, schema replies shaped by
their schema from the facts given), counts of every length in every style, and the first stream
untouched."""

import collections
import json
import re

import conftest
import datagen
import dataset
import datagen_v2 as v2


def nums(text):
    return [int(x) for x in re.findall(r"-?\d+", text)]


def stream(seed, n):
    return [v2.make_example_v2(seed, i) for i in range(n)]


def test_examples_are_pure_and_the_first_stream_is_unchanged():
    assert stream(7, 300) == [v2.make_example_v2(7, i) for i in range(299, -1, -1)][::-1]
    assert stream(7, 50) != stream(8, 50)
    # the committed held-out set is still what the first stream makes
    with open(conftest.HELDOUT) as f:
        committed = [json.loads(line) for line in f]
    regenerated = dataset.eval_set(30)
    assert [{k: e[k] for k in ("family", "messages", "answer", "check")} for e in committed] \
        == regenerated


def test_every_family_appears_and_each_reply_passes_its_own_check():
    seen = collections.Counter()
    for e in stream(1, 3000):
        seen[e["family"]] += 1
        last = e["messages"][-1]
        assert last["role"] == "assistant"
        reply = last["content"] if not last.get("tool_calls") else render_calls(last)
        assert datagen.reply_is_correct(e, reply), e
        assert not datagen.reply_is_correct(e, reply + "0"), e
    assert set(seen) == set(v2.FAMILIES_V2)
    assert seen["tools"] > 250 and seen["schema"] > 120


def render_calls(message):
    """An assistant message's calls as the model writes them (Qwen3's <tool_call> blocks)."""
    return "\n".join('<tool_call>\n{"name": "%s", "arguments": %s}\n</tool_call>'
                     % (c["function"]["name"], json.dumps(c["function"]["arguments"]))
                     for c in message["tool_calls"])


def valid_arguments(tool, args):
    params = tool["function"]["parameters"]
    types = {"string": str, "integer": int}
    if set(args) != set(params["required"]) or not set(args) <= set(params["properties"]):
        return False
    for k, v in args.items():
        p = params["properties"][k]
        if not isinstance(v, types[p["type"]]) or ("enum" in p and v not in p["enum"]):
            return False
    return True


def test_tool_calls_name_offered_tools_with_valid_arguments_and_results_are_the_tools():
    kinds = collections.Counter()
    for e in stream(2, 4000):
        if e["family"] != "tools":
            continue
        offered = {t["function"]["name"]: t for t in e["tools"]}
        assert len(offered) == len(e["tools"]) and 1 <= len(offered) <= 3
        msgs = e["messages"]
        calls = [m for m in msgs if m.get("tool_calls")]
        if not calls:
            kinds["plain"] += 1
            assert all(m["role"] in ("system", "user", "assistant") for m in msgs)
            continue
        assert len(calls) == 1 and calls[0]["content"] == ""
        made = [(c["function"]["name"], c["function"]["arguments"])
                for c in calls[0]["tool_calls"]]
        for name, args in made:
            assert name in offered and valid_arguments(offered[name], args), e
        assert len({n for n, _ in made}) == len(made), "parallel calls are for different tools"
        results = [m for m in msgs if m["role"] == "tool"]
        if not results:
            kinds["call" if len(made) == 1 else "parallel"] += 1
            assert e["answer"] == [{"name": n, "arguments": a} for n, a in made]
            continue
        kinds["round trip" if len(made) == 1 else "parallel round trip"] += 1
        assert [json.loads(r["content"]) for r in results] == \
            [v2.run_tool(n, a) for n, a in made]
        final = msgs[-1]["content"]
        for r in results:  # the answer uses every result
            out = json.loads(r["content"])
            value = out.get("result", out.get("capital", out.get("condition")))
            assert str(value) in final, e
    assert set(kinds) == {"plain", "call", "parallel", "round trip", "parallel round trip"}
    assert min(kinds.values()) > 20, kinds


def test_tools_compute_what_they_say():
    assert v2.run_tool("add", {"a": 17, "b": 25}) == {"result": 42}
    assert v2.run_tool("multiply", {"a": 12, "b": 11}) == {"result": 132}
    assert v2.run_tool("get_capital", {"country": "Peru"})["capital"] == "Lima"
    assert v2.run_tool("convert_case", {"text": "big red dog", "case": "title"}) == \
        {"result": "Big Red Dog"}
    w = v2.run_tool("get_weather", {"city": "Paris"})
    assert (w["condition"], w["temperature_c"]) == v2.WEATHER["Paris"]


def test_schema_replies_follow_their_schema_and_the_facts():
    n = 0
    for e in stream(3, 3000):
        if e["family"] != "schema":
            continue
        n += 1
        system, user = e["messages"][0]["content"], e["messages"][1]["content"]
        schema = json.loads(system[system.index("{"):])
        reply = json.loads(e["answer"])
        props = list(schema["properties"])
        assert list(reply) == [k for k in props if k in reply], "in the schema's order"
        assert set(schema["required"]) <= set(reply)
        for k, v in reply.items():
            p = schema["properties"][k]
            assert isinstance(v, {"string": str, "integer": int, "boolean": bool}[p["type"]])
            assert p["type"] == "boolean" or type(v) is not bool
            assert "enum" not in p or v in p["enum"]
            if k == "member":
                assert ("is a member" if v else "is not a member") in user.lower()
            else:
                assert str(v) in user, (k, v, user)
        assert e["answer"] == json.dumps(reply)  # json.dumps' spacing, as the engine writes
    assert n > 100


def test_counts_cover_every_length_in_every_style():
    by_style = collections.defaultdict(set)
    for i in range(40000):
        rng = v2.random.Random(f"count-cover/{i}")
        _, prompt, reply, _, _ = v2.gen_count_v2(rng)
        style = next(s for s, (_, fmt) in v2.COUNT_STYLES.items()
                     if re.fullmatch(re.escape(fmt.format(a="N", b="N", k="N")).replace(
                         "N", r"-?\d+"), prompt))
        seq = nums(reply)
        assert len(reply) <= v2.MAX_COUNT_CHARS
        steps = {b - a for a, b in zip(seq, seq[1:])}
        assert len(steps) == 1 and (steps.pop() in (1, -1, 2, 3, 5, 10)), prompt
        by_style[style].add(len(seq))
    assert set(by_style) == set(v2.COUNT_STYLES)
    long = set(range(65, v2.MAX_COUNT + 1))
    for style, lengths in by_style.items():
        assert set(range(2, 65)) <= lengths, (style, sorted(set(range(2, 65)) - lengths))
        if v2.COUNT_STYLES[style][0] != "step":  # steps of 4-digit numbers stop short of 200
            assert len(long & lengths) > 0.9 * len(long), style  # the longest from low starts
    ones = set().union(*(v for s, v in by_style.items() if v2.COUNT_STYLES[s][0] != "step"))
    assert set(range(2, v2.MAX_COUNT + 1)) <= ones
    short = sum(1 for i in range(3000) if len(nums(v2.gen_count_v2(
        v2.random.Random(f"short/{i}"))[2])) <= 12)
    assert short > 900, "a third of the counts are short"


def test_tool_call_check_parses_blocks_and_refuses_anything_else():
    e = {"check": "tool_calls", "answer": [{"name": "add", "arguments": {"a": 1, "b": 2}}]}
    good = '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>'
    assert datagen.reply_is_correct(e, good)
    assert datagen.reply_is_correct(e, good.replace(", ", ","))  # JSON, not text, compared
    assert not datagen.reply_is_correct(e, "Sure! " + good)
    assert not datagen.reply_is_correct(e, good.replace('"b": 2', '"b": 3'))
    assert not datagen.reply_is_correct(e, good + "\n" + good)
    assert not datagen.reply_is_correct(e, "<tool_call>\n{not json}\n</tool_call>")
    assert not datagen.reply_is_correct(e, "3")


def test_heldout_places_are_never_asked_about_in_training():
    held = v2.eval_set_v2(30)
    assert collections.Counter(e["family"] for e in held) == {"tools": 30, "schema": 30}
    places = set(v2.HELD_OUT_CITIES) | set(v2.HELD_OUT_COUNTRIES)
    for e in stream(dataset.TRAIN_SEED, 6000):
        for m in e["messages"]:
            for c in m.get("tool_calls") or []:
                assert not places & {str(v) for v in c["function"]["arguments"].values()}, e
    asked = [c["function"]["arguments"] for e in held for m in e["messages"]
             for c in m.get("tool_calls") or []]
    assert any(places & {str(v) for v in a.values()} for a in asked)


def test_v2_training_set_fits_the_context_and_leaves_out_both_heldout_sets(tmp_path):
    import bpe
    import chatml_qwen3
    tok_path = tmp_path / "tokenizer_v2.json"
    chatml_qwen3.tokenizer_v2(bpe.ByteLevelBPE.load(conftest.TOKENIZER)).save(tok_path)
    held = dataset.held_out_keys(stream=2)
    assert {v2.question_key(e) for e in dataset.eval_set(30)} < held  # both held-out sets
    n = 10000
    clashes = sum(v2.question_key(v2.make_example_v2(dataset.TRAIN_SEED, i)) in held
                  for i in range(n))
    assert clashes > 0, "old-family questions recur: they must be left out"
    rows = dataset.build_train_set(str(tok_path), n, held, n_im_end=16, workers=1, stream=2)
    assert len(rows) == n - clashes
    longest = max(len(ids) for ids, _ in rows)
    assert longest <= dataset.BUCKETS_V2[-1] <= 1024, longest
    batcher = dataset.BucketBatcher(rows, 32768, 2010, buckets=dataset.BUCKETS_V2)
    ids, lab = next(iter(batcher))
    assert ids.shape[1] in dataset.BUCKETS_V2 and lab.any()
    assert any(2014 in ids for ids, _ in rows), "calls are trained with the <tool_call> token"
