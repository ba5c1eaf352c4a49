//! Location pins.

#[allow(unused_imports)]
use super::*;

/// A location pin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Location {
    latitude: f64,
    longitude: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
}

impl Location {
    /// A pin at a latitude and longitude.
    pub fn new(latitude: f64, longitude: f64) -> Self {
        Self {
            latitude,
            longitude,
            name: None,
            address: None,
        }
    }
    /// The place name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// The address.
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }
    pub(super) fn validate(&self) -> Result<(), ValidationError> {
        if !(-90.0..=90.0).contains(&self.latitude) || !(-180.0..=180.0).contains(&self.longitude) {
            return Err(ValidationError::new(
                "location",
                "latitude must be within -90..=90 and longitude within -180..=180",
            ));
        }
        Ok(())
    }
}

impl From<Location> for Content {
    fn from(location: Location) -> Self {
        Content::Location { location }
    }
}
