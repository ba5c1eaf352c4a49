//! Composite Graph (several independent graphs of related subrequests, each
//! all-or-none, up to 500 nodes in one call) and sObject Tree (a record with
//! its children, created together).

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{CompositeRequest, CompositeResponse, MAX_SUBREQUESTS};
use crate::client::{Client, Req};
use crate::error::Error;
use crate::id::SalesforceId;

/// One graph: a composite request that succeeds or fails as a whole.
#[derive(Debug, Clone, Serialize)]
pub struct Graph {
    #[serde(rename = "graphId")]
    graph_id: String,
    #[serde(rename = "compositeRequest")]
    requests: Vec<super::Subrequest>,
}

impl Graph {
    /// A graph named `graph_id` made of a composite request's subrequests
    /// (its all-or-none flag is ignored: a graph always is).
    pub fn new(graph_id: impl Into<String>, request: CompositeRequest) -> Self {
        Self {
            graph_id: graph_id.into(),
            requests: request.subrequests,
        }
    }
}

/// The outcome of one graph.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct GraphResult {
    /// Its id.
    #[serde(rename = "graphId")]
    pub graph_id: String,
    /// Whether every node succeeded (else nothing of the graph was kept).
    #[serde(rename = "isSuccessful", default)]
    pub is_successful: bool,
    /// The nodes' responses.
    #[serde(
        rename = "graphResponse",
        default,
        deserialize_with = "graph_responses"
    )]
    pub responses: Vec<CompositeResponse>,
}

fn graph_responses<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<CompositeResponse>, D::Error> {
    #[derive(Deserialize)]
    struct Wire {
        #[serde(rename = "compositeResponse", default)]
        composite_response: Vec<CompositeResponse>,
    }
    Ok(Wire::deserialize(d)?.composite_response)
}

/// A record of an sObject Tree, with its children by relationship name.
#[derive(Debug, Clone, Default)]
pub struct TreeRecord {
    object: String,
    reference_id: String,
    fields: Map<String, Value>,
    children: Vec<(String, Vec<TreeRecord>)>,
}

impl TreeRecord {
    /// A record of `object` known as `reference_id` in the answer.
    pub fn new(object: impl Into<String>, reference_id: impl Into<String>) -> Self {
        Self {
            object: object.into(),
            reference_id: reference_id.into(),
            ..Self::default()
        }
    }

    /// Sets a field.
    pub fn set(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(field.to_owned(), value.into());
        self
    }

    /// Adds children under a relationship (`Contacts`, `Tasks`...).
    pub fn children(mut self, relationship: &str, records: Vec<TreeRecord>) -> Self {
        self.children.push((relationship.to_owned(), records));
        self
    }

    fn to_json(&self) -> Value {
        let mut m = self.fields.clone();
        m.insert(
            "attributes".into(),
            serde_json::json!({"type": self.object, "referenceId": self.reference_id}),
        );
        for (rel, kids) in &self.children {
            m.insert(
                rel.clone(),
                serde_json::json!({"records": kids.iter().map(TreeRecord::to_json).collect::<Vec<_>>()}),
            );
        }
        Value::Object(m)
    }
}

/// The ids an sObject Tree created, by reference id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct TreeResult {
    /// A reference id and its new record id.
    #[serde(rename = "referenceId")]
    pub reference_id: String,
    /// The new id.
    pub id: SalesforceId,
}

impl Client {
    /// Sends several graphs in one call; each graph is kept or rolled back as
    /// a whole, independently of the others.
    pub async fn composite_graph(&self, graphs: Vec<Graph>) -> Result<Vec<GraphResult>, Error> {
        if graphs.is_empty()
            || graphs
                .iter()
                .any(|g| g.requests.is_empty() || g.requests.len() > 500)
        {
            return Err(Error::Config(
                "a composite graph request takes graphs of 1 to 500 nodes".into(),
            ));
        }
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            graphs: Vec<GraphResult>,
        }
        let body = serde_json::json!({ "graphs": graphs });
        let w: Wire = self
            .call(Req::new(Method::POST, "composite/graph").json(&body))
            .await?
            .json()?;
        Ok(w.graphs)
    }

    /// Creates records of one object with their children in one call
    /// (`/composite/tree/<object>`, at most 200 records in all). All or none:
    /// a failure is an error naming the first record that failed.
    pub async fn create_tree(
        &self,
        object: &str,
        records: &[TreeRecord],
    ) -> Result<Vec<TreeResult>, Error> {
        if records.is_empty() || records.len() > MAX_SUBREQUESTS * 8 {
            return Err(Error::Config(
                "an sObject Tree takes 1 to 200 records".into(),
            ));
        }
        if !object
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(Error::Config(format!(
                "{object:?} is not an object API name"
            )));
        }
        #[derive(Deserialize)]
        struct Wire {
            #[serde(rename = "hasErrors", default)]
            has_errors: bool,
            #[serde(default)]
            results: Vec<Value>,
        }
        let body = serde_json::json!({ "records": records.iter().map(TreeRecord::to_json).collect::<Vec<_>>() });
        let answer = self
            .call(Req::new(Method::POST, format!("composite/tree/{object}")).json(&body))
            .await?;
        let w: Wire = answer.json()?;
        if w.has_errors {
            let first = w
                .results
                .iter()
                .find(|r| r.get("errors").is_some())
                .cloned()
                .unwrap_or_default();
            let errors = first.get("errors").cloned().unwrap_or_default();
            return Err(
                crate::ApiError::from_body(400, errors.to_string().as_bytes())
                    .map(|e| Error::Api(Box::new(e)))
                    .unwrap_or_else(|| {
                        Error::unexpected(
                            400,
                            "the tree was refused",
                            errors.to_string().as_bytes(),
                        )
                    }),
            );
        }
        w.results
            .into_iter()
            .map(|r| {
                serde_json::from_value(r).map_err(|e| {
                    Error::unexpected(
                        answer.status,
                        format!("unexpected tree result ({e})"),
                        &answer.body,
                    )
                })
            })
            .collect()
    }
}
