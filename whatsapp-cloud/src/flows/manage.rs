//! The data of Flows management.

use serde::{Deserialize, Serialize};

use crate::serde_util::open_enum;

open_enum! {
    /// A Flow's lifecycle status.
    FlowStatus {
        /// Editable; can be sent for testing only.
        Draft = "DRAFT",
        /// Live: cannot be edited, can be sent.
        Published = "PUBLISHED",
        /// Retired: cannot be sent or reopened.
        Deprecated = "DEPRECATED",
        /// Blocked by monitoring (endpoint health).
        Blocked = "BLOCKED",
        /// Throttled by monitoring (endpoint health).
        Throttled = "THROTTLED",
    }
}

open_enum! {
    /// What a Flow is for.
    FlowCategory {
        /// Sign up.
        SignUp = "SIGN_UP",
        /// Sign in.
        SignIn = "SIGN_IN",
        /// Appointment booking.
        AppointmentBooking = "APPOINTMENT_BOOKING",
        /// Lead generation.
        LeadGeneration = "LEAD_GENERATION",
        /// Contact us.
        ContactUs = "CONTACT_US",
        /// Customer support.
        CustomerSupport = "CUSTOMER_SUPPORT",
        /// Survey.
        Survey = "SURVEY",
        /// Anything else.
        Miscellaneous = "OTHER",
    }
}

/// A Flow to create with `POST /{waba-id}/flows`.
///
/// ```
/// use whatsapp_cloud::flows::{FlowCategory, NewFlow};
///
/// let booking = NewFlow::new("book_appointment", vec![FlowCategory::AppointmentBooking])
///     .flow_json(r#"{"version": "6.0", "screens": []}"#)
///     .endpoint_uri("https://bridge.example.com/flows");
/// assert!(booking.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NewFlow {
    /// The name (unique in the business account).
    pub name: String,
    /// At least one category.
    pub categories: Vec<FlowCategory>,
    /// The Flow JSON, as a string; without it the Flow starts empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_json: Option<String>,
    /// Publish at once (needs a valid Flow JSON).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub publish: bool,
    /// Copy another Flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clone_flow_id: Option<String>,
    /// The data-exchange endpoint, for Flows that use one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_uri: Option<String>,
}

impl NewFlow {
    /// A Flow with a name and categories.
    pub fn new(name: impl Into<String>, categories: Vec<FlowCategory>) -> Self {
        Self {
            name: name.into(),
            categories,
            flow_json: None,
            publish: false,
            clone_flow_id: None,
            endpoint_uri: None,
        }
    }

    /// Sets the Flow JSON.
    pub fn flow_json(mut self, json: impl Into<String>) -> Self {
        self.flow_json = Some(json.into());
        self
    }

    /// Publishes at creation.
    pub fn publish(mut self, publish: bool) -> Self {
        self.publish = publish;
        self
    }

    /// Copies another Flow.
    pub fn clone_of(mut self, flow_id: impl Into<String>) -> Self {
        self.clone_flow_id = Some(flow_id.into());
        self
    }

    /// Sets the data-exchange endpoint (https).
    pub fn endpoint_uri(mut self, uri: impl Into<String>) -> Self {
        self.endpoint_uri = Some(uri.into());
        self
    }

    /// Checks the name, categories, JSON and endpoint before sending.
    pub fn validate(&self) -> Result<(), crate::ValidationError> {
        use crate::ValidationError as E;
        if self.name.trim().is_empty() {
            return Err(E::new("name", "must not be empty"));
        }
        if self.categories.is_empty() {
            return Err(E::new("categories", "at least one category"));
        }
        if let Some(json) = &self.flow_json {
            check_flow_json(json)?;
        }
        if let Some(uri) = &self.endpoint_uri
            && !uri.starts_with("https://")
        {
            return Err(E::new("endpoint_uri", "must be an https URL"));
        }
        Ok(())
    }
}

/// Checks that a Flow JSON is a JSON object (WhatsApp validates the rest and
/// answers with [`FlowValidationError`]s).
pub fn check_flow_json(json: &str) -> Result<(), crate::ValidationError> {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err(crate::ValidationError::new(
            "flow_json",
            "expected a JSON object",
        )),
        Err(e) => Err(crate::ValidationError::new(
            "flow_json",
            format!(
                "not valid JSON ({})",
                crate::serde_util::describe_serde_error(&e)
            ),
        )),
    }
}

/// Changes to a Flow's metadata (`POST /{flow-id}`); unset parts are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FlowUpdate {
    /// A new name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New categories.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<FlowCategory>>,
    /// A new endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_uri: Option<String>,
}

impl FlowUpdate {
    /// An update that changes nothing.
    pub fn new() -> Self {
        Self::default()
    }
    /// Renames the Flow.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Sets the categories.
    pub fn categories(mut self, categories: Vec<FlowCategory>) -> Self {
        self.categories = Some(categories);
        self
    }
    /// Sets the endpoint.
    pub fn endpoint_uri(mut self, uri: impl Into<String>) -> Self {
        self.endpoint_uri = Some(uri.into());
        self
    }
}

/// A problem WhatsApp found in a Flow JSON.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct FlowValidationError {
    /// The error kind (`INVALID_PROPERTY_VALUE`, ...).
    #[serde(default)]
    pub error: Option<String>,
    /// The error type.
    #[serde(default)]
    pub error_type: Option<String>,
    /// What is wrong.
    #[serde(default)]
    pub message: Option<String>,
    /// Where: first line.
    #[serde(default)]
    pub line_start: Option<u64>,
    /// Where: last line.
    #[serde(default)]
    pub line_end: Option<u64>,
    /// Where: first column.
    #[serde(default)]
    pub column_start: Option<u64>,
    /// Where: last column.
    #[serde(default)]
    pub column_end: Option<u64>,
}

/// The answer to a Flow creation or JSON upload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct FlowSaved {
    /// The Flow id (creation only).
    #[serde(default, deserialize_with = "crate::serde_util::lenient_string")]
    pub id: Option<String>,
    /// Whether it was saved.
    #[serde(default)]
    pub success: Option<bool>,
    /// Problems in the Flow JSON; a Flow with any cannot be published.
    #[serde(default)]
    pub validation_errors: Vec<FlowValidationError>,
}

/// A Flow as listed or read.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct FlowInfo {
    /// The id.
    #[serde(default, deserialize_with = "crate::serde_util::lenient_string")]
    pub id: Option<String>,
    /// The name.
    #[serde(default)]
    pub name: String,
    /// The status.
    #[serde(default)]
    pub status: Option<FlowStatus>,
    /// The categories.
    #[serde(default)]
    pub categories: Vec<FlowCategory>,
    /// Problems in the current Flow JSON.
    #[serde(default)]
    pub validation_errors: Vec<FlowValidationError>,
    /// The Flow JSON version.
    #[serde(default)]
    pub json_version: Option<String>,
    /// The data API version.
    #[serde(default)]
    pub data_api_version: Option<String>,
    /// The endpoint.
    #[serde(default)]
    pub endpoint_uri: Option<String>,
    /// The preview, when asked for.
    #[serde(default)]
    pub preview: Option<FlowPreview>,
    /// Every other field (health status, application, ...), as sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A web preview of a Flow.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct FlowPreview {
    /// The preview URL (anyone with it can open the Flow).
    #[serde(default)]
    pub preview_url: String,
    /// When it stops working, as sent (ISO 8601).
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// An endpoint metric of a Flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FlowMetric {
    /// Requests to the endpoint.
    EndpointRequestCount,
    /// Failed requests, by error.
    EndpointRequestError,
    /// The share of failed requests.
    EndpointRequestErrorRate,
    /// Latency percentiles, in seconds.
    EndpointRequestLatencySecondsCeil,
    /// Availability.
    EndpointAvailability,
}

impl FlowMetric {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowMetric::EndpointRequestCount => "ENDPOINT_REQUEST_COUNT",
            FlowMetric::EndpointRequestError => "ENDPOINT_REQUEST_ERROR",
            FlowMetric::EndpointRequestErrorRate => "ENDPOINT_REQUEST_ERROR_RATE",
            FlowMetric::EndpointRequestLatencySecondsCeil => {
                "ENDPOINT_REQUEST_LATENCY_SECONDS_CEIL"
            }
            FlowMetric::EndpointAvailability => "ENDPOINT_AVAILABILITY",
        }
    }
}

/// The period of each metric point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetricGranularity {
    /// An hour.
    Hour,
    /// A day.
    Day,
    /// The Flow's whole life.
    Lifetime,
}

impl MetricGranularity {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricGranularity::Hour => "HOUR",
            MetricGranularity::Day => "DAY",
            MetricGranularity::Lifetime => "LIFETIME",
        }
    }
}

/// A metric's values over time.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct FlowMetrics {
    /// The metric name, as sent.
    #[serde(default)]
    pub name: Option<String>,
    /// The granularity, as sent.
    #[serde(default)]
    pub granularity: Option<String>,
    /// The points.
    #[serde(default)]
    pub data_points: Vec<FlowMetricPoint>,
}

/// The values of one period: `(key, value)` pairs (`value` for counts,
/// `p50` / `p90` for latency, an error name for errors).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct FlowMetricPoint {
    /// When, as sent (ISO 8601).
    #[serde(default)]
    pub timestamp: Option<String>,
    /// The values.
    #[serde(default)]
    pub data: Vec<FlowMetricValue>,
}

/// One value of a metric point.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct FlowMetricValue {
    /// The key.
    #[serde(default)]
    pub key: String,
    /// The value.
    #[serde(default, deserialize_with = "crate::serde_util::lenient_f64")]
    pub value: Option<f64>,
}

open_enum! {
    /// Whether the uploaded business public key's signature is valid.
    KeySignatureStatus {
        /// Valid.
        Valid = "VALID",
        /// The key does not match its signature: upload it again.
        Mismatch = "MISMATCH",
    }
}

/// The business public key registered for a number's Flows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct BusinessPublicKey {
    /// The PEM.
    #[serde(default)]
    pub business_public_key: Option<String>,
    /// Its signature status.
    #[serde(default)]
    pub business_public_key_signature_status: Option<KeySignatureStatus>,
}
