//! Fuzz the lookups of files' contents: the input's first byte picks a
//! format (JSON, YAML, TOML, INI, key-value, lines), the rest is the file's
//! text, and a fixed plan of lookups (nested keys, a list index, a quoted
//! part, a credential looked up for presence, a line pattern) reads it. Any
//! text gives values or an error naming the file, never a panic or a hang
//! (the value's line is found again by its path: that walk too); values
//! stay within their bounds, a credential's value is never read, and the
//! values serialize as telemetry does.
#![no_main]

use assay_model::lookup::ContentLookup;
use assay_model::telemetry::ContentFormat;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

const FORMATS: &[ContentFormat] = &[
    ContentFormat::Json,
    ContentFormat::Yaml,
    ContentFormat::Toml,
    ContentFormat::Ini,
    ContentFormat::Keyvalue,
    ContentFormat::Lines,
];

const KEYS: &[&str] = &["a", "a.b", "a.b.0", "plugins.\"x.y\".enabled", "section.key", "list.1"];

fn lookup(format: ContentFormat, key: &str, presence: bool) -> ContentLookup {
    ContentLookup { presence, ..ContentLookup::new(format, "/etc/fuzz.conf", key) }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(text) else { return };
    let format = FORMATS[usize::from(pick) % FORMATS.len()];
    let plan: Vec<ContentLookup> = if format == ContentFormat::Lines {
        vec![lookup(format, "^(\\w+)\\s*=\\s*(.*)$", false), lookup(format, "password", true)]
    } else {
        let mut plan: Vec<ContentLookup> = KEYS.iter().map(|k| lookup(format, k, false)).collect();
        plan.push(lookup(format, "db.password", true));
        plan
    };
    let files: BTreeMap<String, String> = [("/etc/fuzz.conf".to_owned(), text.to_owned())].into();
    let read = assay_runtime::collector::contents::read_all(&files, &plan);
    for v in &read.values {
        if v.lookup.contains("password") {
            assert!(v.text.is_none() && v.list.is_none(), "a credential's value was read: {v:?}");
        }
        if let Some(t) = &v.text {
            assert!(t.value.len() <= 4096, "an unbounded value");
        }
    }
    let json = serde_json::to_vec(&read.values).expect("serializes");
    let _: Vec<assay_model::telemetry::ContentValue> = serde_json::from_slice(&json).expect("reads back");
});
