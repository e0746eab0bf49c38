//! The fuzz and property suite: arbitrary Unicode (and arbitrary bytes where
//! a wire carries text) into every text entry point of the engine, the
//! Twilio and Realtime parsers, the TwiML writer and the import parser.
//! Each property says at least "no panic"; most say more (the TwiML parses
//! back, an import round-trips).
//!
//! Case counts are small so CI stays quick; for a long run by hand:
//! `PROPTEST_CASES=20000 cargo test --lib properties`. Failures proptest
//! finds are kept under `proptest-regressions/` and replayed first on every
//! run: commit them. `CORPUS` holds inputs that broke things before.

mod engine;
mod import;
mod twiml;
mod wire;

use proptest::prelude::*;
use proptest::test_runner::Config;

/// Cases per property: `PROPTEST_CASES`, else a few dozen.
pub fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48);
    Config { cases, ..Config::default() }
}

/// Text that broke (or could break) code mapping offsets between a
/// transformed and an original string, or an XML document.
pub const CORPUS: &[&str] = &[
    "\u{212A}\u{212A}\u{212A} i'm \u{c9}lodie", // KELVIN SIGN: lower case is one byte shorter
    "\u{130}\u{130} this is Dana",              // İ: lower case is two characters
    "\u{1E9E} I'M \u{D6}d\u{F6}n",              // capital sharp s
    "Dana\u{1}X",                               // a control character XML forbids
    "a\u{0}b\u{b}c\u{c}d\u{fffe}e\u{ffff}",
    "caf\u{65}\u{301} my name is Jos\u{65}\u{301}", // combining accents
    "\u{202E}evil\u{202C} my name is Bob",          // bidi override
    "\u{200B}i'm\u{200B}Zero Width",
    "\u{1F525}\u{1F525} gas leak \u{1F525}",
    "my name is ",
    "i'm",
    "\u{FB03}ne, I'm Dana", // ligature whose upper case is three letters
    "\u{3A3}\u{3C3}\u{3C2} \u{391}\u{3B8}\u{3B7}\u{3BD}\u{3AC}",
    "\r\n\t",
    "\u{10FFFF}\u{E000}\u{D7FF}",
];

/// Arbitrary text: a corpus entry, random Unicode, or a mix of both with
/// the words the engine listens for.
pub fn text() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "i'm ",
        "my name is ",
        "this is ",
        "me llamo ",
        "soy ",
        "I AM ",
        "gas",
        "flood",
        "burst pipe",
        "not ",
        "no ",
        "yes",
        "skip",
        "@",
        ".com",
        "+1 ",
        "(312) 555-0142",
        "dana@example.com",
        "?",
        ". ",
        "\u{212A}",
        "\u{130}",
        "\u{1E9E}",
        "\u{301}",
        "\u{1}",
        "\n",
    ]);
    prop_oneof![
        prop::sample::select(CORPUS).prop_map(str::to_string),
        any::<String>(),
        "\\PC{0,40}",
        prop::collection::vec(
            prop_oneof![words.prop_map(str::to_string), "\\PC{0,8}", any::<String>()],
            0..8
        )
        .prop_map(|parts| parts.concat()),
    ]
}
