//! Chat templates of real models rendered with `rocmforge_core::chat_template`, compared with what HuggingFace
//! transformers' `apply_chat_template` gives for them.
//!
//! Fixtures in `tests/fixtures/chat_templates/` (see its README): the templates, `cases.json` (conversations and
//! options) and `expected/*.txt`, written by `scripts/make_chat_template_refs.py` with transformers' own Jinja
//! environment. The per-model tests below also spell out the main prompt by hand.

use std::path::PathBuf;

use rocmforge_core::chat_template::{ChatMessage, ChatTemplate, ChatTemplateError};
use serde_json::json;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chat_templates")
}

fn read(rel: &str) -> String {
    let path = fixtures().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn template(file: &str, bos: &str, eos: &str) -> ChatTemplate {
    ChatTemplate::new(&read(file), bos, eos).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn system_user() -> Vec<ChatMessage> {
    vec![ChatMessage::system("You are a helpful assistant."), ChatMessage::user("What is the capital of France?")]
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Checks `text` against `expected` in which `placeholder` stands for today's date as `%d %b %Y`.
fn assert_matches_with_today(text: &str, expected: &str, placeholder: &str) {
    let (before, after) = expected.split_once(placeholder).expect("placeholder in the expected text");
    assert!(text.starts_with(before) && text.ends_with(after), "got:\n{text}\nexpected:\n{expected}");
    assert!(text.len() >= before.len() + after.len(), "got:\n{text}\nexpected:\n{expected}");
    let date = &text[before.len()..text.len() - after.len()];
    let parts: Vec<&str> = date.split(' ').collect();
    assert_eq!(parts.len(), 3, "date {date:?}");
    let day: u32 = parts[0].parse().unwrap_or(0);
    assert!(parts[0].len() == 2 && (1..=31).contains(&day), "day in {date:?}");
    assert!(MONTHS.contains(&parts[1]), "month in {date:?}");
    let year: u32 = parts[2].parse().unwrap_or(0);
    assert!((2025..2200).contains(&year), "year in {date:?}");
}

/// Every case of `cases.json`: the rendering equals transformers' byte for byte (or fails with its exception).
#[test]
fn all_fixture_cases_match_transformers() {
    let cases: serde_json::Value = serde_json::from_str(&read("cases.json")).expect("cases.json");
    let cases = cases.as_array().expect("a list of cases");
    assert!(cases.len() >= 20, "only {} cases", cases.len());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let tmpl = template(
            case["template"].as_str().unwrap(),
            case["bos_token"].as_str().unwrap(),
            case["eos_token"].as_str().unwrap(),
        );
        let messages: Vec<ChatMessage> = case["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| ChatMessage::new(m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
            .collect();
        let add_generation_prompt = case["add_generation_prompt"].as_bool().unwrap();
        let result = tmpl.render_with(&messages, add_generation_prompt, &case["extra"]);
        if let Some(message) = case.get("error") {
            match result {
                Err(ChatTemplateError::Raised { message: got, line }) => {
                    assert_eq!(got, message.as_str().unwrap(), "{name}");
                    assert!(line.is_some(), "{name}: no line");
                }
                other => panic!("{name}: expected the template's exception {message}, got {other:?}"),
            }
            continue;
        }
        let text = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = read(case["expected"].as_str().unwrap());
        match case.get("today") {
            Some(today) => assert_matches_with_today(&text, &expected, today["placeholder"].as_str().unwrap()),
            None => assert_eq!(text, expected, "{name}"),
        }
    }
}

#[test]
fn smollm2_chatml() {
    // From SmolLM2-135M-Instruct's GGUF.
    let t = template("smollm2-135m-instruct.jinja", "<|im_start|>", "<|im_end|>");
    assert_eq!(
        t.render(&system_user(), true).unwrap(),
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n\
         <|im_start|>user\nWhat is the capital of France?<|im_end|>\n\
         <|im_start|>assistant\n"
    );
    // No system message: the template adds its own.
    assert_eq!(
        t.render(&[ChatMessage::user("Hi")], false).unwrap(),
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n\
         <|im_start|>user\nHi<|im_end|>\n"
    );
}

#[test]
fn qwen25_default_system_and_tools() {
    let t = template("qwen2.5-instruct.jinja", "<|endoftext|>", "<|im_end|>");
    assert_eq!(
        t.render(&system_user(), true).unwrap(),
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n\
         <|im_start|>user\nWhat is the capital of France?<|im_end|>\n\
         <|im_start|>assistant\n"
    );
    assert_eq!(
        t.render(&[ChatMessage::user("Hi")], true).unwrap(),
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n\
         <|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    );
    // The tools branch: the default system message, then the tools as JSON (Python's separators, no escaping).
    let tools = json!({"tools": [{"function": {"name": "now", "parameters": {}}, "type": "function"}]});
    let text = t.render_with(&[ChatMessage::user("Time?")], true, &tools).unwrap();
    assert_eq!(
        text,
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n# Tools\n\n\
         You may call one or more functions to assist with the user query.\n\n\
         You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n\
         {\"function\": {\"name\": \"now\", \"parameters\": {}}, \"type\": \"function\"}\n</tools>\n\n\
         For each function call, return a json object with function name and arguments within \
         <tool_call></tool_call> XML tags:\n<tool_call>\n\
         {\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n\
         <|im_start|>user\nTime?<|im_end|>\n<|im_start|>assistant\n"
    );
}

#[test]
fn deepseek_r1_distill_qwen() {
    // From DeepSeek-R1-Distill-Qwen-7B's GGUF: namespace(), `'</think>' in content`, content.split('</think>')[-1].
    let t = template("deepseek-r1-distill-qwen-7b.jinja", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>");
    assert_eq!(
        t.render(&system_user(), true).unwrap(),
        "<｜begin▁of▁sentence｜>You are a helpful assistant.<｜User｜>What is the capital of France?<｜Assistant｜>"
    );
    let messages =
        [ChatMessage::user("2+2?"), ChatMessage::assistant("<think>\nadd\n</think>\n\n4"), ChatMessage::user("3+3?")];
    assert_eq!(
        t.render(&messages, true).unwrap(),
        "<｜begin▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜>\n\n4<｜end▁of▁sentence｜><｜User｜>3+3?<｜Assistant｜>"
    );
}

#[test]
fn llama32_date_and_bos() {
    let t = template("llama-3.2-instruct.jinja", "<|begin_of_text|>", "<|eot_id|>");
    let expected = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n\
                    Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n\
                    You are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n\
                    What is the capital of France?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
    // date_string given: it wins over strftime_now.
    let text = t.render_with(&system_user(), true, &json!({"date_string": "26 Jul 2024"})).unwrap();
    assert_eq!(text, expected);
    // Not given: today's date from strftime_now("%d %b %Y").
    let text = t.render(&system_user(), true).unwrap();
    assert_matches_with_today(&text, &expected.replace("26 Jul 2024", "@@TODAY@@"), "@@TODAY@@");
}

#[test]
fn gemma3_system_prefix_and_alternation() {
    let t = template("gemma-3-it.jinja", "<bos>", "<eos>");
    assert_eq!(
        t.render(&system_user(), true).unwrap(),
        "<bos><start_of_turn>user\nYou are a helpful assistant.\n\n\
         What is the capital of France?<end_of_turn>\n<start_of_turn>model\n"
    );
    let err = t.render(&[ChatMessage::user("a"), ChatMessage::user("b")], true).unwrap_err();
    assert_eq!(
        err,
        ChatTemplateError::Raised {
            message: "Conversation roles must alternate user/assistant/user/assistant/...".into(),
            line: Some(19),
        }
    );
    assert_eq!(
        err.to_string(),
        "cannot render chat template: the template raised an exception: \
         Conversation roles must alternate user/assistant/user/assistant/... (line 19)"
    );
}

#[test]
fn unsupported_construct_is_a_clear_error() {
    // transformers' `{% generation %}` tag (assistant masks) is not Jinja: minijinja rejects it at compile time.
    let src = "{% for m in messages %}\n{% if m.role == 'assistant' %}\n{% generation %}{{ m.content }}\
               {% endgeneration %}\n{% endif %}\n{% endfor %}";
    let err = ChatTemplate::new(src, "", "").unwrap_err();
    match &err {
        ChatTemplateError::Syntax { line, .. } => assert_eq!(*line, Some(3)),
        other => panic!("expected a syntax error, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.starts_with("invalid chat template: syntax error: "), "{msg}");
    assert!(msg.contains("generation") && msg.ends_with("(line 3)") && !msg.contains('\n'), "{msg}");

    // Broken syntax.
    let err = ChatTemplate::new("{{ messages[0].content ", "", "").unwrap_err();
    assert!(matches!(err, ChatTemplateError::Syntax { line: Some(1), .. }), "{err:?}");
}

#[test]
fn render_errors_are_clear_and_do_not_panic() {
    // An unknown Python method.
    let t = ChatTemplate::new("{{ bos_token }}\n{{ messages[0].content.casefold() }}", "<s>", "</s>").unwrap();
    let err = t.render(&[ChatMessage::user("x")], false).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ChatTemplateError::Render { line: Some(2), .. }), "{err:?}");
    assert!(msg.starts_with("cannot render chat template: ") && msg.ends_with("(line 2)"), "{msg}");

    // No messages: indexing past the end then reading a field of the undefined result.
    let t = template("gemma-3-it.jinja", "<bos>", "<eos>");
    match t.render(&[], true) {
        Ok(text) => assert_eq!(text, "<bos><start_of_turn>model\n"),
        Err(e) => assert!(e.to_string().starts_with("cannot render chat template: "), "{e}"),
    }

    // A bad operation.
    let t = ChatTemplate::new("{{ 1 + messages }}", "", "").unwrap();
    let err = t.render(&system_user(), false).unwrap_err();
    assert!(err.to_string().starts_with("cannot render chat template: invalid operation"), "{err}");

    // Extra variables must be an object.
    let t = ChatTemplate::new("x", "", "").unwrap();
    assert_eq!(
        t.render_with(&[], false, &json!([1])).unwrap_err().to_string(),
        "cannot render chat template: extra variables must be a JSON object, not an array"
    );
}

#[test]
fn hf_environment_details() {
    let render = |src: &str, extra: serde_json::Value| {
        ChatTemplate::new(src, "<s>", "</s>").unwrap().render_with(&system_user(), true, &extra).unwrap()
    };
    // trim_blocks + lstrip_blocks; the final newline dropped.
    assert_eq!(render("  {% if true %}\n  a\n  {% endif %}\nb\n", json!(null)), "  a\nb");
    // tools / documents are defined (none) unless given, as transformers passes them; booleans print as Python does.
    assert_eq!(
        render("{{ tools is defined }} {{ tools is none }} {{ documents is none }}", json!(null)),
        "True True True"
    );
    // Python string methods (pycompat).
    assert_eq!(
        render("{{ '  a b '.strip() }}|{{ 'a,b'.split(',')[-1] }}|{{ 'abc'.startswith('ab') }}", json!(null)),
        "a b|b|True"
    );
    // tojson as transformers overrides it: no HTML escaping, Python separators, indent, sort_keys.
    let extra = json!({"v": {"b": [1, 2.5, null, true], "a": "<&'\"é>"}});
    assert_eq!(render("{{ v | tojson }}", extra.clone()), r#"{"a": "<&'\"é>", "b": [1, 2.5, null, true]}"#);
    assert_eq!(render("{{ v.b | tojson(indent=2) }}", extra.clone()), "[\n  1,\n  2.5,\n  null,\n  true\n]");
    assert_eq!(
        render("{{ v | tojson(separators=(',', ':')) }}", extra.clone()),
        r#"{"a":"<&'\"é>","b":[1,2.5,null,true]}"#
    );
    assert_eq!(render("{{ v.a | tojson(ensure_ascii=true) }}", extra), r#""<&'\"\u00e9>""#);
    assert_eq!(render("{{ {} | tojson(indent=4) }}{{ [] | tojson }}", json!(null)), "{}[]");
    // loop controls, namespace.
    assert_eq!(
        render(
            "{% set ns = namespace(n=0) %}{% for i in range(10) %}{% if i == 3 %}{% break %}{% endif %}\
             {% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}",
            json!(null)
        ),
        "3"
    );
    // bos / eos tokens.
    assert_eq!(render("{{ bos_token }}{{ eos_token }}", json!(null)), "<s></s>");
}

#[test]
fn chat_template_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<ChatTemplate>();
}
