//! The business-file importer: any text is parsed or refused with line
//! numbers, never a panic; a file that imports exports to one that imports
//! to the same business.

use proptest::prelude::*;

use super::{config, text};
use crate::provision::{parse_bundle, render_bundle};

/// A TOML basic string holding `s` (escaped as TOML requires).
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_is_imported_or_refused_with_lines(t in text()) {
        if let Err(errors) = parse_bundle(&t) {
            prop_assert!(!errors.is_empty());
            let lines = t.lines().count().max(1) + 1;
            prop_assert!(errors.iter().all(|e| e.line >= 1 && e.line <= lines), "{errors:?}");
        }
    }

    #[test]
    fn a_file_with_any_values_round_trips(
        name in text(),
        agent in text(),
        question in text(),
        title in text(),
        content in text(),
        phrase in text(),
    ) {
        let file = format!(
            "[business]\nname = {}\n[agent]\nagent_name = {}\nwelcome_message = {}\n\
             [[questions]]\nquestion_text = {}\n[[knowledge]]\ntitle = {}\ncontent = {}\n\
             [emergency_rules]\nurgent = [{}]\n",
            toml_string(&name), toml_string(&agent), toml_string(&content), toml_string(&question),
            toml_string(&title), toml_string(&content), toml_string(&phrase),
        );
        if let Ok(bundle) = parse_bundle(&file) {
            let again = parse_bundle(&render_bundle(&bundle));
            prop_assert!(again.is_ok(), "exported file does not import: {:?}", again.err());
            prop_assert_eq!(format!("{:?}", again.ok()), format!("{:?}", Some(bundle)));
        }
    }
}
