#!/usr/bin/env python3
"""Write the expected renderings of the chat-template fixtures.

Renders each case below with HuggingFace's own Jinja environment and writes

    crates/core/tests/fixtures/chat_templates/cases.json      the cases (inputs + expected file or error)
    crates/core/tests/fixtures/chat_templates/expected/*.txt  the rendered prompts, byte for byte

`crates/core/tests/chat_template.rs` renders the same cases with minijinja and compares.

The environment is transformers' `render_jinja_template` when transformers is installed (it is what
`tokenizer.apply_chat_template(..., tokenize=False)` calls). Without transformers a replica of its
environment is used: jinja2's ImmutableSandboxedEnvironment with trim_blocks=True, lstrip_blocks=True,
the loopcontrols extension, `raise_exception`, `strftime_now` and HF's `tojson` (json.dumps,
ensure_ascii=False, no HTML escaping). With both installed, the two must agree (checked here).

    pip install jinja2 transformers   # transformers is optional
    python3 scripts/make_chat_template_refs.py

Tool schemas are written with their keys in sorted order: the Rust side passes extra variables as
serde_json values, whose maps iterate sorted (serde_json without `preserve_order`), and `tojson` prints
keys in map order, so sorted input keeps both sides byte-identical.
"""
import json
import os
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "crates", "core", "tests", "fixtures", "chat_templates")

TOKENS = {
    # template file: (bos_token, eos_token) as the model's GGUF / tokenizer_config.json names them
    "smollm2-135m-instruct.jinja": ("<|im_start|>", "<|im_end|>"),
    "deepseek-r1-distill-qwen-7b.jinja": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "qwen2.5-instruct.jinja": ("<|endoftext|>", "<|im_end|>"),
    "llama-3.2-instruct.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "gemma-3-it.jinja": ("<bos>", "<eos>"),
}


def m(role, content):
    return {"role": role, "content": content}


SYSTEM_USER = [m("system", "You are a helpful assistant."), m("user", "What is the capital of France?")]
MULTI_TURN = [
    m("user", "  Hi there!  \n"),
    m("assistant", "Hello! How can I help?"),
    m("user", "Tell me a joke about \"quotes\" & <tags>."),
]
THINKING_TURN = [
    m("system", "Be brief."),
    m("user", "What is 2+2?"),
    m("assistant", "<think>\nTwo plus two.\n</think>\n\n4"),
    m("user", "And 3+3?"),
]
TOOLS = [
    {
        "function": {
            "description": "Get the current weather in a city — in °C.",
            "name": "get_weather",
            "parameters": {
                "properties": {"city": {"description": "City name, e.g. Paris", "type": "string"}},
                "required": ["city"],
                "type": "object",
            },
        },
        "type": "function",
    }
]

CASES = []

# Where a template prints strftime_now(...) (Llama 3.x without date_string), the expected file holds
# TODAY instead of the date, and the case names the format the test checks the date against.
TODAY = "@@TODAY@@"
TODAY_FORMAT = "%d %b %Y"


def case(name, template, messages, add_generation_prompt, extra=None):
    CASES.append(dict(name=name, template=template, messages=messages,
                      add_generation_prompt=add_generation_prompt, extra=extra or {}))


for t in TOKENS:
    stem = t[: -len(".jinja")]
    case(f"{stem}--system_user", t, SYSTEM_USER, True)
    case(f"{stem}--multi_turn", t, MULTI_TURN, True)
    case(f"{stem}--multi_turn_no_prompt", t, MULTI_TURN, False)
case("deepseek-r1-distill-qwen-7b--thinking", "deepseek-r1-distill-qwen-7b.jinja", THINKING_TURN, True)
case("qwen2.5-instruct--thinking", "qwen2.5-instruct.jinja", THINKING_TURN, True)
case("qwen2.5-instruct--tools_system", "qwen2.5-instruct.jinja", SYSTEM_USER, True, {"tools": TOOLS})
case("qwen2.5-instruct--tools_default_system", "qwen2.5-instruct.jinja", SYSTEM_USER[1:], True, {"tools": TOOLS})
case("llama-3.2-instruct--fixed_date", "llama-3.2-instruct.jinja", SYSTEM_USER, True, {"date_string": "26 Jul 2024"})
case("llama-3.2-instruct--tools_in_user", "llama-3.2-instruct.jinja", SYSTEM_USER, True,
     {"date_string": "01 Jan 2025", "tools": TOOLS})
case("llama-3.2-instruct--tools_in_system", "llama-3.2-instruct.jinja", SYSTEM_USER, True,
     {"date_string": "01 Jan 2025", "tools": TOOLS, "tools_in_user_message": False})
case("llama-3.2-instruct--tools_no_user", "llama-3.2-instruct.jinja", SYSTEM_USER[:1], True,
     {"date_string": "01 Jan 2025", "tools": TOOLS})
case("gemma-3-it--no_alternation", "gemma-3-it.jinja", [m("user", "a"), m("user", "b")], True)
case("gemma-3-it--thinking", "gemma-3-it.jinja", THINKING_TURN, True)


def replica_compile(source):
    """transformers' _cached_compile_jinja_template, less the {% generation %} tracker."""

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.now().strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(source)


def render_replica(source, c, bos, eos):
    kwargs = dict(bos_token=bos, eos_token=eos)
    kwargs.update(c["extra"])
    tools = kwargs.pop("tools", None)
    return replica_compile(source).render(messages=[dict(x) for x in c["messages"]], tools=tools, documents=None,
                                          add_generation_prompt=c["add_generation_prompt"], **kwargs)


def render_transformers(source, c, bos, eos):
    from transformers.utils.chat_template_utils import render_jinja_template

    kwargs = dict(bos_token=bos, eos_token=eos)
    kwargs.update(c["extra"])
    tools = kwargs.pop("tools", None)
    rendered, _ = render_jinja_template([[dict(x) for x in c["messages"]]], tools=tools, chat_template=source,
                                        add_generation_prompt=c["add_generation_prompt"], **kwargs)
    return rendered[0]


def outcome(render, source, c, bos, eos):
    try:
        return ("ok", render(source, c, bos, eos))
    except jinja2.exceptions.TemplateError as e:
        return ("error", str(e))


def main():
    try:
        import transformers  # noqa: F401

        have_transformers = True
    except ImportError:
        have_transformers = False
    print(f"jinja2 {jinja2.__version__}; transformers: "
          f"{transformers.__version__ if have_transformers else 'not installed (replica only)'}")

    os.makedirs(os.path.join(FIXTURES, "expected"), exist_ok=True)
    manifest = []
    for c in CASES:
        with open(os.path.join(FIXTURES, c["template"]), encoding="utf-8", newline="") as f:
            source = f.read()
        bos, eos = TOKENS[c["template"]]
        result = outcome(render_replica, source, c, bos, eos)
        if have_transformers:
            hf = outcome(render_transformers, source, c, bos, eos)
            if hf != result:
                sys.exit(f"{c['name']}: replica and transformers differ:\n{result!r}\n{hf!r}")
        entry = dict(c, bos_token=bos, eos_token=eos)
        if result[0] == "ok":
            text = result[1]
            if "strftime_now" in source and "date_string" not in c["extra"]:
                # Llama 3.x prints today's date: store a placeholder the test replaces (see TODAY).
                today = datetime.now().strftime(TODAY_FORMAT)
                if text.count(today) != 1:
                    sys.exit(f"{c['name']}: expected today's date {today!r} once in {text!r}")
                text = text.replace(today, TODAY)
                entry["today"] = dict(placeholder=TODAY, format=TODAY_FORMAT)
            entry["expected"] = f"expected/{c['name']}.txt"
            with open(os.path.join(FIXTURES, entry["expected"]), "w", encoding="utf-8", newline="") as f:
                f.write(text)
        else:
            entry["error"] = result[1]
        manifest.append(entry)
        print(f"{c['name']}: {result[0]}")
    with open(os.path.join(FIXTURES, "cases.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(manifest, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
