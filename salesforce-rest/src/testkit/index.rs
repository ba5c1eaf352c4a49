//! An index of the mock org's string values: (object, field, value) to the
//! ids of the records holding it, so upserts, uniqueness checks and
//! external-ID references cost O(1) instead of a scan of every record (a
//! burst of thousands of writes was measuring the mock). Kept in step by
//! every write path of [`State`](super::state::State): inserts, updates,
//! touches and deletes.

use std::collections::HashMap;

use serde_json::{Map, Value};

#[derive(Debug, Default)]
pub(super) struct ValueIndex {
    by: HashMap<(String, String), HashMap<String, Vec<String>>>,
}

impl ValueIndex {
    /// A record inserted.
    pub(super) fn add(&mut self, object: &str, record: &Map<String, Value>) {
        let Some(id) = record.get("Id").and_then(Value::as_str) else {
            return;
        };
        for (field, value) in record {
            if let Some(value) = value.as_str() {
                self.add_one(object, field, value, id);
            }
        }
    }

    /// A record deleted.
    pub(super) fn remove(&mut self, object: &str, record: &Map<String, Value>) {
        let Some(id) = record.get("Id").and_then(Value::as_str) else {
            return;
        };
        for (field, value) in record {
            if let Some(value) = value.as_str() {
                self.remove_one(object, field, value, id);
            }
        }
    }

    /// `changes` about to be written over `record`.
    pub(super) fn change(
        &mut self,
        object: &str,
        record: &Map<String, Value>,
        changes: &Map<String, Value>,
    ) {
        let Some(id) = record.get("Id").and_then(Value::as_str) else {
            return;
        };
        for (field, value) in changes {
            if let Some(old) = record.get(field).and_then(Value::as_str) {
                self.remove_one(object, field, old, id);
            }
            if let Some(new) = value.as_str() {
                self.add_one(object, field, new, id);
            }
        }
    }

    /// The ids of `object`'s records whose `field` is the string `value`, in
    /// creation order.
    pub(super) fn ids(&self, object: &str, field: &str, value: &str) -> Vec<String> {
        self.by
            .get(&(object.to_owned(), field.to_owned()))
            .and_then(|values| values.get(value))
            .cloned()
            .unwrap_or_default()
    }

    fn add_one(&mut self, object: &str, field: &str, value: &str, id: &str) {
        self.by
            .entry((object.to_owned(), field.to_owned()))
            .or_default()
            .entry(value.to_owned())
            .or_default()
            .push(id.to_owned());
    }

    fn remove_one(&mut self, object: &str, field: &str, value: &str, id: &str) {
        if let Some(values) = self.by.get_mut(&(object.to_owned(), field.to_owned()))
            && let Some(ids) = values.get_mut(value)
        {
            ids.retain(|i| i != id);
            if ids.is_empty() {
                values.remove(value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn values_follow_inserts_changes_and_deletes() {
        let mut index = ValueIndex::default();
        let a = record(json!({"Id": "00Q1", "Phone__c": "+14155550123", "N": 1}));
        let b = record(json!({"Id": "00Q2", "Phone__c": "+14155550123"}));
        index.add("Lead", &a);
        index.add("Lead", &b);
        assert_eq!(
            index.ids("Lead", "Phone__c", "+14155550123"),
            ["00Q1", "00Q2"]
        );
        assert!(index.ids("Case", "Phone__c", "+14155550123").is_empty());
        index.change("Lead", &a, &record(json!({"Phone__c": "+14155550188"})));
        assert_eq!(index.ids("Lead", "Phone__c", "+14155550123"), ["00Q2"]);
        assert_eq!(index.ids("Lead", "Phone__c", "+14155550188"), ["00Q1"]);
        index.remove("Lead", &b);
        assert!(index.ids("Lead", "Phone__c", "+14155550123").is_empty());
        assert!(index.ids("Lead", "N", "1").is_empty(), "only strings");
    }
}
