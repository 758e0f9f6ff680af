//! Chat templates: render a model's `tokenizer.chat_template` (a HuggingFace Jinja template) into a prompt.
//!
//! The template is rendered with [minijinja] set up like the environment HuggingFace transformers'
//! `apply_chat_template` uses (`ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)` with the
//! `loopcontrols` extension), so a GGUF's template gives the same prompt here as in transformers:
//!
//! - `trim_blocks` and `lstrip_blocks` on, the template's single trailing newline dropped (Jinja2's default);
//! - variables `messages` (a list of `{role, content}` maps), `add_generation_prompt`, `bos_token`, `eos_token`,
//!   and `tools` / `documents` (none unless given through [`ChatTemplate::render_with`]), plus any extra
//!   variables passed there (`date_string`, `enable_thinking`, `tools_in_user_message`, ...);
//! - `raise_exception(msg)`: stops rendering with [`ChatTemplateError::Raised`] carrying `msg`;
//! - `strftime_now(fmt)`: the current date and time formatted like C's `strftime` — in UTC (transformers uses the
//!   machine's local time; this crate has no time-zone database);
//! - the `tojson` filter as transformers overrides it: Python's `json.dumps` (`ensure_ascii=False`, no HTML
//!   escaping, `indent`, `separators`, `sort_keys`), keys in the map's own order;
//! - Python string, list and dict methods (`.strip()`, `.split()`, `.startswith()`, `.items()`, `.get()`, ...)
//!   through `minijinja-contrib`'s `pycompat`; `namespace()`, `loop.*`, `break`/`continue` are built in.
//!
//! A template minijinja cannot compile (a construct it lacks, such as transformers' `{% generation %}` tag) gives
//! [`ChatTemplateError::Syntax`] from [`ChatTemplate::new`], with the template's line; nothing panics.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, ErrorKind, Value};
use thiserror::Error;

/// The name the template is registered under (it shows in no message: errors carry only its line).
const TEMPLATE_NAME: &str = "chat_template";

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, `tool`, ... (the template decides what it accepts).
    pub role: String,
    /// The message's text.
    pub content: String,
}

impl ChatMessage {
    /// A message with `role` and `content`.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self { role: role.into(), content: content.into() }
    }

    /// A `system` message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }

    /// A `user` message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }

    /// An `assistant` message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }
}

/// Why a chat template could not be compiled or rendered. Each message is one line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChatTemplateError {
    /// The template does not compile (bad syntax, or a construct minijinja does not support).
    #[error("invalid chat template: {reason}{}", line_suffix(.line))]
    Syntax {
        /// What is wrong, e.g. `syntax error: unknown statement generation`.
        reason: String,
        /// The template's line (1-based), where known.
        line: Option<usize>,
    },
    /// The template compiled but failed while rendering (undefined value, bad operation, unknown method, ...).
    #[error("cannot render chat template: {reason}{}", line_suffix(.line))]
    Render {
        /// What went wrong.
        reason: String,
        /// The template's line (1-based), where known.
        line: Option<usize>,
    },
    /// The template called `raise_exception(message)`: it rejects the conversation (e.g. roles that do not
    /// alternate).
    #[error("cannot render chat template: the template raised an exception: {message}{}", line_suffix(.line))]
    Raised {
        /// The template's own message, as given to `raise_exception`.
        message: String,
        /// The template's line (1-based), where known.
        line: Option<usize>,
    },
    /// The extra variables given to [`ChatTemplate::render_with`] are not a JSON object.
    #[error("cannot render chat template: extra variables must be a JSON object, not {0}")]
    InvalidVariables(String),
}

fn line_suffix(line: &Option<usize>) -> String {
    match line {
        Some(n) => format!(" (line {n})"),
        None => String::new(),
    }
}

/// Marks an error as coming from the template's `raise_exception(...)`.
#[derive(Debug)]
struct RaisedByTemplate;

impl std::fmt::Display for RaisedByTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("raised by the template")
    }
}

impl std::error::Error for RaisedByTemplate {}

/// The one-line reason of a minijinja error, without its location: `kind: detail`.
fn reason_of(err: &minijinja::Error) -> String {
    let reason = match err.detail() {
        Some(detail) => format!("{}: {}", err.kind(), detail),
        None => err.kind().to_string(),
    };
    // One line: a detail can quote multi-line template source.
    reason.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn raised_by_template(err: &minijinja::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        if e.is::<RaisedByTemplate>() {
            return true;
        }
        source = e.source();
    }
    false
}

fn render_error(err: minijinja::Error) -> ChatTemplateError {
    if raised_by_template(&err) {
        return ChatTemplateError::Raised { message: err.detail().unwrap_or_default().to_string(), line: err.line() };
    }
    if err.kind() == ErrorKind::SyntaxError {
        return ChatTemplateError::Syntax { reason: reason_of(&err), line: err.line() };
    }
    ChatTemplateError::Render { reason: reason_of(&err), line: err.line() }
}

/// A compiled chat template, ready to render conversations. Cheap to render many times; `Send + Sync`.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate").field("bos_token", &self.bos_token).field("eos_token", &self.eos_token).finish()
    }
}

impl ChatTemplate {
    /// Compiles `template` (the GGUF's `tokenizer.chat_template`); `bos_token` and `eos_token` are the texts of the
    /// model's BOS and EOS tokens, which templates print as `{{ bos_token }}` / `{{ eos_token }}`.
    pub fn new(template: &str, bos_token: &str, eos_token: &str) -> Result<Self, ChatTemplateError> {
        let mut env = Environment::new();
        // transformers: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True); Jinja2 drops the
        // template's single trailing newline by default (keep_trailing_newline=False).
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(false);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_filter("tojson", tojson);
        env.add_template_owned(TEMPLATE_NAME, template.to_string())
            .map_err(|err| ChatTemplateError::Syntax { reason: reason_of(&err), line: err.line() })?;
        Ok(Self { env, bos_token: bos_token.to_string(), eos_token: eos_token.to_string() })
    }

    /// Renders `messages`; with `add_generation_prompt` the prompt ends with the header of an assistant turn, ready
    /// for the model to write the reply.
    pub fn render(&self, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<String, ChatTemplateError> {
        self.render_with(messages, add_generation_prompt, &serde_json::Value::Null)
    }

    /// Like [`render`](Self::render), with extra template variables: `extra` is a JSON object (or null for none)
    /// whose entries are set as variables, e.g. `{"tools": [...], "date_string": "26 Jul 2024",
    /// "enable_thinking": false}` — as keyword arguments to transformers' `apply_chat_template`. An entry named like
    /// a standard variable (`messages`, `bos_token`, ...) replaces it. Maps keep serde_json's key order
    /// (sorted, unless serde_json's `preserve_order` feature is on), which is the order `tojson` prints them in.
    pub fn render_with(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
        extra: &serde_json::Value,
    ) -> Result<String, ChatTemplateError> {
        let extra = match extra {
            serde_json::Value::Null => None,
            serde_json::Value::Object(map) => Some(map),
            other => return Err(ChatTemplateError::InvalidVariables(json_kind(other).to_string())),
        };
        let messages: Vec<Value> = messages
            .iter()
            .map(|m| {
                Value::from_iter([("role", Value::from(m.role.as_str())), ("content", Value::from(m.content.as_str()))])
            })
            .collect();
        // What transformers passes: messages, tools, documents, add_generation_prompt, the special tokens, kwargs.
        let mut vars: BTreeMap<String, Value> = BTreeMap::new();
        vars.insert("messages".into(), Value::from(messages));
        vars.insert("tools".into(), Value::from(()));
        vars.insert("documents".into(), Value::from(()));
        vars.insert("add_generation_prompt".into(), Value::from(add_generation_prompt));
        vars.insert("bos_token".into(), Value::from(self.bos_token.as_str()));
        vars.insert("eos_token".into(), Value::from(self.eos_token.as_str()));
        for (key, value) in extra.into_iter().flatten() {
            vars.insert(key.clone(), Value::from_serialize(value));
        }
        let template = self.env.get_template(TEMPLATE_NAME).map_err(render_error)?;
        template.render(Value::from_iter(vars)).map_err(render_error)
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// `raise_exception(message)`: fails the render with the template's message.
fn raise_exception(message: Value) -> Result<Value, minijinja::Error> {
    let message = match message.as_str() {
        Some(s) => s.to_string(),
        None => message.to_string(),
    };
    Err(minijinja::Error::new(ErrorKind::InvalidOperation, message).with_source(RaisedByTemplate))
}

/// `strftime_now(format)`: now, in UTC, formatted like C's `strftime`.
fn strftime_now(format: &str) -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    strftime_utc(format, secs)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// The civil date (year, month 1-12, day 1-31) of a day counted from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Formats the UTC time `unix_secs` like C's `strftime` in the C locale: `%a %A %b %B %h %d %e %H %I %j %m %M %p
/// %S %y %Y %C %u %w %Z %z %F %T %D %R %n %t %%`, with glibc's `-` flag for no padding (`%-d`). Anything else is
/// copied as it is.
fn strftime_utc(format: &str, unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs_of_day = unix_secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (secs_of_day / 3600, secs_of_day % 3600 / 60, secs_of_day % 60);
    let weekday = (days + 4).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
    const CUMULATIVE: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = CUMULATIVE[month as usize - 1] + day + u32::from(month > 2 && is_leap(year));
    let hour12 = if hour % 12 == 0 { 12 } else { hour % 12 };

    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let no_pad = chars.peek() == Some(&'-');
        if no_pad {
            chars.next();
        }
        let num = |out: &mut String, v: i64, width: usize, fill: char| {
            if no_pad {
                let _ = write!(out, "{v}");
            } else if fill == ' ' {
                let _ = write!(out, "{v:>width$}");
            } else {
                let _ = write!(out, "{v:0width$}");
            }
        };
        match chars.next() {
            Some('a') => out.push_str(&WEEKDAYS[weekday][..3]),
            Some('A') => out.push_str(WEEKDAYS[weekday]),
            Some('b') | Some('h') => out.push_str(&MONTHS[month as usize - 1][..3]),
            Some('B') => out.push_str(MONTHS[month as usize - 1]),
            Some('d') => num(&mut out, day.into(), 2, '0'),
            Some('e') => num(&mut out, day.into(), 2, ' '),
            Some('H') => num(&mut out, hour, 2, '0'),
            Some('I') => num(&mut out, hour12, 2, '0'),
            Some('j') => num(&mut out, yday.into(), 3, '0'),
            Some('m') => num(&mut out, month.into(), 2, '0'),
            Some('M') => num(&mut out, minute, 2, '0'),
            Some('p') => out.push_str(if hour < 12 { "AM" } else { "PM" }),
            Some('S') => num(&mut out, second, 2, '0'),
            Some('y') => num(&mut out, year.rem_euclid(100), 2, '0'),
            Some('Y') => {
                let _ = write!(out, "{year}");
            }
            Some('C') => num(&mut out, year.div_euclid(100), 2, '0'),
            Some('u') => num(&mut out, if weekday == 0 { 7 } else { weekday as i64 }, 1, '0'),
            Some('w') => num(&mut out, weekday as i64, 1, '0'),
            Some('Z') => out.push_str("UTC"),
            Some('z') => out.push_str("+0000"),
            Some('F') => {
                let _ = write!(out, "{year}-{month:02}-{day:02}");
            }
            Some('T') => {
                let _ = write!(out, "{hour:02}:{minute:02}:{second:02}");
            }
            Some('R') => {
                let _ = write!(out, "{hour:02}:{minute:02}");
            }
            Some('D') => {
                let _ = write!(out, "{month:02}/{day:02}/{:02}", year.rem_euclid(100));
            }
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                if no_pad {
                    out.push('-');
                }
                out.push(other);
            }
            None => {
                out.push('%');
                if no_pad {
                    out.push('-');
                }
            }
        }
    }
    out
}

/// How `tojson` writes: Python's `json.dumps` options.
struct JsonStyle {
    ensure_ascii: bool,
    indent: Option<String>,
    item_separator: String,
    key_separator: String,
    sort_keys: bool,
}

/// The `tojson` filter as transformers defines it:
/// `json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
fn tojson(
    value: &Value,
    ensure_ascii: Option<Value>,
    indent: Option<Value>,
    kwargs: Kwargs,
) -> Result<Value, minijinja::Error> {
    let ensure_ascii = match kwargs.get::<Option<Value>>("ensure_ascii")?.or(ensure_ascii) {
        Some(v) => v.is_true(),
        None => false,
    };
    let indent = match kwargs.get::<Option<Value>>("indent")?.or(indent) {
        None => None,
        Some(v) if v.is_none() || v.is_undefined() => None,
        Some(v) => match (v.as_i64(), v.as_str()) {
            (Some(n), _) => Some(" ".repeat(n.max(0) as usize)),
            (None, Some(s)) => Some(s.to_string()),
            _ => {
                return Err(minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    format!("tojson: indent must be an integer or a string, not {}", v.kind()),
                ))
            }
        },
    };
    let (item_separator, key_separator) = match kwargs.get::<Option<Value>>("separators")? {
        Some(v) if !v.is_none() => {
            let parts: Vec<Value> = v.try_iter()?.collect();
            match parts.as_slice() {
                [a, b] if a.as_str().is_some() && b.as_str().is_some() => {
                    (a.as_str().unwrap_or_default().to_string(), b.as_str().unwrap_or_default().to_string())
                }
                _ => {
                    return Err(minijinja::Error::new(
                        ErrorKind::InvalidOperation,
                        "tojson: separators must be a pair of strings",
                    ))
                }
            }
        }
        _ if indent.is_some() => (",".to_string(), ": ".to_string()),
        _ => (", ".to_string(), ": ".to_string()),
    };
    let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    let style = JsonStyle { ensure_ascii, indent, item_separator, key_separator, sort_keys };
    let mut out = String::new();
    write_json(&mut out, value, &style, 0)?;
    Ok(Value::from(out))
}

fn write_newline_indent(out: &mut String, style: &JsonStyle, level: usize) {
    if let Some(indent) = &style.indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str(indent);
        }
    }
}

fn write_json(out: &mut String, v: &Value, style: &JsonStyle, level: usize) -> Result<(), minijinja::Error> {
    match v.kind() {
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => out.push_str(&json_number(v)),
        ValueKind::String => write_json_string(out, v.as_str().unwrap_or_default(), style.ensure_ascii),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = v.try_iter()?.collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&style.item_separator);
                }
                write_newline_indent(out, style, level + 1);
                write_json(out, item, style, level + 1)?;
            }
            write_newline_indent(out, style, level);
            out.push(']');
        }
        ValueKind::Map => {
            let mut entries = Vec::new();
            for key in v.try_iter()? {
                let item = v.get_item(&key)?;
                entries.push((json_key(&key)?, item));
            }
            if style.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(&b.0));
            }
            if entries.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(&style.item_separator);
                }
                write_newline_indent(out, style, level + 1);
                write_json_string(out, key, style.ensure_ascii);
                out.push_str(&style.key_separator);
                write_json(out, item, style, level + 1)?;
            }
            write_newline_indent(out, style, level);
            out.push('}');
        }
        kind => {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                format!("tojson: a value of type {kind} is not JSON serializable"),
            ))
        }
    }
    Ok(())
}

/// A map key as `json.dumps` writes it: strings as they are, numbers, booleans and none as their JSON text.
fn json_key(key: &Value) -> Result<String, minijinja::Error> {
    match key.kind() {
        ValueKind::String => Ok(key.as_str().unwrap_or_default().to_string()),
        ValueKind::Number => Ok(json_number(key)),
        ValueKind::Bool => Ok(if key.is_true() { "true" } else { "false" }.to_string()),
        ValueKind::None => Ok("null".to_string()),
        kind => Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("tojson: keys must be strings, numbers, booleans or none, not {kind}"),
        )),
    }
}

/// A number as Python's `json.dumps` writes it: integers plainly, floats like `repr(float)`.
fn json_number(v: &Value) -> String {
    if v.is_integer() {
        return v.to_string();
    }
    match f64::try_from(v.clone()) {
        Ok(f) => python_float_repr(f),
        Err(_) => v.to_string(),
    }
}

/// `repr(f)` in Python (as `json.dumps` writes floats): shortest round-trip digits, exponent form below 1e-4 and
/// from 1e16 on (`1e-05`, `1e+16`), `NaN` / `Infinity` / `-Infinity` for the non-finite.
fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        // Rust's LowerExp gives the shortest round-trip mantissa: `1e16`, `1.5e-7`.
        let s = format!("{f:e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    // Debug gives shortest round-trip digits and keeps a `.0` on whole numbers, as Python does.
    let s = format!("{f:?}");
    if s.contains('e') {
        // Not expected within [1e-4, 1e16), but keep Python's plain form if Debug ever chose an exponent.
        let plain = format!("{f}");
        return if plain.contains('.') { plain } else { format!("{plain}.0") };
    }
    s
}

/// A JSON string literal as `json.dumps` writes it.
fn write_json_string(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if ensure_ascii && (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strftime_fixed_times() {
        // Expected values from Python: time.strftime(fmt, time.gmtime(t)).
        let t = 1_721_952_000; // 2024-07-26 00:00:00 UTC, a Friday
        assert_eq!(strftime_utc("%d %b %Y", t), "26 Jul 2024");
        assert_eq!(strftime_utc("%A %B %-d, %Y", t), "Friday July 26, 2024");
        assert_eq!(
            strftime_utc("%F %T %j %a %u %w %y %%", t + 3 * 3600 + 4 * 60 + 5),
            "2024-07-26 03:04:05 208 Fri 5 5 24 %"
        );
        assert_eq!(strftime_utc("%d %b %Y", 0), "01 Jan 1970");
        assert_eq!(strftime_utc("%e|%I %p|%j", 951_825_600), "29|12 PM|060");
        assert_eq!(strftime_utc("%e|%-m", 0), " 1|1"); // 2000-02-29 12:00:00
        assert_eq!(strftime_utc("%d %b %Y %H:%M", 1_735_689_599), "31 Dec 2024 23:59");
        assert_eq!(strftime_utc("%j", 1_735_689_599), "366");
        assert_eq!(strftime_utc("%q %-q 100%", 0), "%q %-q 100%");
        assert_eq!(strftime_utc("%d %b %Y", -86_400), "31 Dec 1969");
    }

    #[test]
    fn float_repr_like_python() {
        for (f, want) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e300, "1.5e+300"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-1.25e-7, "-1.25e-07"),
            (0.0, "0.0"),
            (123456.789, "123456.789"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(python_float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn json_strings_like_python() {
        let mut out = String::new();
        write_json_string(&mut out, "a\"b\\c\n\t\u{1}é€😀\u{7f}", false);
        assert_eq!(out, "\"a\\\"b\\\\c\\n\\t\\u0001é€😀\u{7f}\"");
        out.clear();
        write_json_string(&mut out, "é€😀", true);
        assert_eq!(out, "\"\\u00e9\\u20ac\\ud83d\\ude00\"");
    }
}
