//! What a form or a JSON body says, in one shape, so the pages and the admin
//! API validate it with the same code; and the per-field errors that come back.

use serde_json::Value;

use crate::error::ApiError;
use crate::plans::PlanRequired;
use crate::store::StoreError;

/// Named text values; a name may repeat (a list, or a checkbox after its hidden default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Input {
    values: Vec<(String, String)>,
}

impl Input {
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Input {
        Input { values: pairs.into_iter().collect() }
    }

    /// An `application/x-www-form-urlencoded` body or query string.
    pub fn from_urlencoded(bytes: &[u8]) -> Input {
        Input::from_pairs(url::form_urlencoded::parse(bytes).into_owned())
    }

    /// A JSON object: strings as they are, numbers and booleans as text,
    /// arrays as repeated values; nested objects as `outer.inner`.
    pub fn from_json(value: &Value) -> Result<Input, ApiError> {
        let Some(object) = value.as_object() else {
            return Err(ApiError::BadRequest("expected a JSON object".into()));
        };
        let mut values = Vec::new();
        for (key, v) in object {
            flatten(key, v, &mut values);
        }
        Ok(Input { values })
    }

    /// The same values with `key` set to `value` (it wins over earlier ones).
    pub fn with(mut self, key: &str, value: &str) -> Input {
        self.values.push((key.to_string(), value.to_string()));
        self
    }

    pub fn has(&self, key: &str) -> bool {
        self.values.iter().any(|(k, _)| k == key)
    }

    /// The last value given for `key` (a checkbox overrides its hidden default), or "".
    pub fn get(&self, key: &str) -> &str {
        self.values.iter().rev().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str())
    }

    /// Whether `key`'s value is `value` (select boxes).
    pub fn is(&self, key: &str, value: &str) -> bool {
        self.get(key) == value
    }

    pub fn opt(&self, key: &str) -> Option<&str> {
        self.has(key).then(|| self.get(key))
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.values.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    /// Every non-empty line of every value of `key` (textareas and JSON arrays alike).
    pub fn lines(&self, key: &str) -> Vec<String> {
        self.all(key)
            .iter()
            .flat_map(|v| v.lines())
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// A checkbox or boolean: on, true, 1, yes.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key).trim().to_ascii_lowercase().as_str(), "on" | "true" | "1" | "yes")
    }
}

fn flatten(key: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Null => {}
        Value::String(s) => out.push((key.to_string(), s.clone())),
        Value::Bool(b) => out.push((key.to_string(), b.to_string())),
        Value::Number(n) => out.push((key.to_string(), n.to_string())),
        // An empty list is there and empty ("no channels"), not left out.
        Value::Array(items) if items.is_empty() => out.push((key.to_string(), String::new())),
        Value::Array(items) => items.iter().for_each(|item| flatten(key, item, out)),
        Value::Object(map) => map.iter().for_each(|(k, item)| flatten(&format!("{key}.{k}"), item, out)),
    }
}

/// Problems with named fields, shown next to each field on a page or listed by the API.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldErrors(pub Vec<(String, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_string(), message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message for a field, for the template.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(f, _)| f == field).map(|(_, m)| m.as_str())
    }

    /// Keeps an Ok value; records an Err against `field`.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    /// (label, message) for a page: the field named as the form names it,
    /// never its snake_case key.
    pub fn shown(&self) -> Vec<(String, String)> {
        self.0.iter().map(|(f, m)| (label(f), m.clone())).collect()
    }

    /// "field: message; field: message"
    pub fn summary(&self) -> String {
        self.0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; ")
    }
}

/// How a form names a field; unknown keys read with spaces.
pub fn label(key: &str) -> String {
    let known = match key {
        "question_text" => "Question",
        "maps_to_lead_field" => "Saved as",
        "expected_format" => "Answer format",
        "ids" => "Order",
        "q" => "Search",
        "from" => "From",
        "to" => "To",
        "state" => "State",
        "page" => "Page",
        "limit" => "Rows",
        "offset" => "Start",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    let mut words = key.replace(['_', '.'], " ");
    if let Some(first) = words.get(..1) {
        words.replace_range(..1, &first.to_uppercase());
    }
    words
}

/// Why an action did not happen: bad fields (the form is shown again) or
/// anything else (an error page or JSON error).
#[derive(Debug)]
pub enum ActionError {
    Fields(FieldErrors),
    Api(ApiError),
}

impl ActionError {
    pub fn field(field: &str, message: impl Into<String>) -> ActionError {
        let mut e = FieldErrors::default();
        e.add(field, message);
        ActionError::Fields(e)
    }
}

impl From<ApiError> for ActionError {
    fn from(e: ApiError) -> Self {
        ActionError::Api(e)
    }
}

impl From<StoreError> for ActionError {
    fn from(e: StoreError) -> Self {
        ActionError::Api(e.into())
    }
}

impl From<PlanRequired> for ActionError {
    fn from(e: PlanRequired) -> Self {
        ActionError::Api(e.into())
    }
}

/// Ok(value) when there were no errors, else the errors.
pub fn finish<T>(errors: FieldErrors, value: Option<T>) -> Result<T, ActionError> {
    match value {
        Some(v) if errors.is_empty() => Ok(v),
        _ => Err(ActionError::Fields(errors)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn forms_and_json_read_alike() {
        let form =
            Input::from_urlencoded(b"name=Acme+Co&is_required=false&is_required=true&lines=a%0Ab%0A%0Ac");
        assert_eq!(form.get("name"), "Acme Co");
        assert!(form.flag("is_required"));
        assert_eq!(form.lines("lines"), ["a", "b", "c"]);
        let json = Input::from_json(&serde_json::json!({
            "name": "Acme Co", "is_required": true, "lines": ["a", "b"], "color": {"primary": "#fff"}, "n": 3
        }))
        .unwrap();
        assert_eq!(json.get("name"), "Acme Co");
        assert!(json.flag("is_required"));
        assert_eq!(json.lines("lines"), ["a", "b"]);
        assert_eq!(json.get("color.primary"), "#fff");
        assert_eq!(json.get("n"), "3");
        assert!(!json.has("missing") && json.get("missing").is_empty());
        let empty = Input::from_json(&serde_json::json!({ "list": [] })).unwrap();
        assert!(empty.has("list") && empty.lines("list").is_empty());
        assert!(Input::from_json(&serde_json::json!([1])).is_err());
    }
}
