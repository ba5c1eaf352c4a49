//! Writes as owning request values: build, set what you need, `.await`.
//!
//! Every single-record write has one shape and one home for its options:
//!
//! ```
//! # #[cfg(feature = "testkit")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), salesforce_rest::Error> {
//! use salesforce_rest::records::{Case, DynamicRecord};
//! use salesforce_rest::sobjects::{AutoAssign, WriteOptions};
//! # let org = salesforce_rest::testkit::MockOrg::start().await;
//! # let client = org.client();
//! let no_rules = WriteOptions::new().auto_assign(AutoAssign::Off);
//! // A typed record:
//! let id = client.create(&Case::new("Broken box", "It arrived broken")).options(no_rules.clone()).await?;
//! // Any object, as a dynamic record (the object is a setter):
//! let lead = DynamicRecord::new().set("LastName", "Lima").set("Company", "Acme");
//! client.create(&lead).object("Lead").options(no_rules.clone()).await?;
//! // An upsert on an external id, with the same options:
//! let case = Case::new("Late", "Still waiting");
//! let outcome = client.upsert("WhatsApp_Message_Id__c", "wamid.1", &case).options(no_rules).await?;
//! assert!(outcome.created);
//! client.update(&id, &Case::new("Broken box", "Replaced")).await?;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "testkit"))]
//! # fn main() {}
//! ```

use std::borrow::Cow;
use std::future::{Future, IntoFuture};
use std::pin::Pin;

use serde::Serialize;

use crate::client::Client;
use crate::error::Error;
use crate::id::SalesforceId;
use crate::records::{DynamicRecord, SObject};
use crate::sobjects::{UpsertOutcome, WriteOptions, to_json, to_json_bytes};

/// A record a write can send: a typed [`SObject`] (its object is known) or a
/// [`DynamicRecord`] (name the object with `.object(..)`).
pub trait WriteRecord: Serialize + Sync {
    /// The object's API name, when the type knows it.
    fn object_name() -> Option<&'static str>;
}

impl<T: SObject + Sync> WriteRecord for T {
    fn object_name() -> Option<&'static str> {
        Some(T::API_NAME)
    }
}

impl WriteRecord for DynamicRecord {
    fn object_name() -> Option<&'static str> {
        None
    }
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;

fn object_of<R: WriteRecord>(set: Option<Cow<'_, str>>) -> Result<Cow<'_, str>, Error> {
    set.or_else(|| R::object_name().map(Cow::Borrowed))
        .ok_or_else(|| {
            Error::Config(
                "a dynamic record needs its object: call .object(\"Lead\") on the write".into(),
            )
        })
}

/// The setters every write shares: the object (for dynamic records) and
/// the options.
macro_rules! setters {
    ($name:ident) => {
        impl<'a, R: WriteRecord> $name<'a, R> {
            /// The object's API name (required for a [`DynamicRecord`]).
            pub fn object(mut self, name: impl Into<Cow<'a, str>>) -> Self {
                self.object = Some(name.into());
                self
            }

            /// Assignment and duplicate rule options.
            pub fn options(mut self, options: WriteOptions) -> Self {
                self.options = options;
                self
            }
        }
    };
}

/// A create: `client.create(&record)`. Resolves to the new id. Not retried
/// after an ambiguous failure (see [`RetryPolicy::retry_creates`](crate::RetryPolicy::retry_creates)).
#[must_use = "a write does nothing until it is awaited"]
pub struct Create<'a, R> {
    client: &'a Client,
    record: &'a R,
    object: Option<Cow<'a, str>>,
    options: WriteOptions,
}

setters!(Create);

impl<'a, R: WriteRecord> IntoFuture for Create<'a, R> {
    type Output = Result<SalesforceId, Error>;
    type IntoFuture = Boxed<'a, SalesforceId>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let object = object_of::<R>(self.object)?;
            let body = to_json_bytes(self.record)?;
            self.client.create_bytes(&object, body, &self.options).await
        })
    }
}

/// An update by id: `client.update(&id, &record)`. Only the fields set (or
/// set to null) are sent.
#[must_use = "a write does nothing until it is awaited"]
pub struct Update<'a, R> {
    client: &'a Client,
    id: &'a SalesforceId,
    record: &'a R,
    object: Option<Cow<'a, str>>,
    options: WriteOptions,
}

setters!(Update);

impl<'a, R: WriteRecord> IntoFuture for Update<'a, R> {
    type Output = Result<(), Error>;
    type IntoFuture = Boxed<'a, ()>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let object = object_of::<R>(self.object)?;
            let body = to_json(self.record)?;
            self.client
                .update_value(&object, self.id, body, &self.options)
                .await
        })
    }
}

/// An upsert on an external id: `client.upsert(field, value, &record)`.
///
/// Handles every answer: 201 created, 200 with `created: false`, 204 on old
/// API versions, and 300 (several matches) as [`Error::MultipleMatches`].
/// Values that cannot travel in a URL path (WhatsApp message ids contain
/// `/`, `+` and `=`) go through the collections upsert, in the body.
#[must_use = "a write does nothing until it is awaited"]
pub struct Upsert<'a, R> {
    client: &'a Client,
    field: &'a str,
    value: &'a str,
    record: &'a R,
    object: Option<Cow<'a, str>>,
    options: WriteOptions,
}

setters!(Upsert);

impl<'a, R: WriteRecord> IntoFuture for Upsert<'a, R> {
    type Output = Result<UpsertOutcome, Error>;
    type IntoFuture = Boxed<'a, UpsertOutcome>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let object = object_of::<R>(self.object)?;
            let body = to_json(self.record)?;
            self.client
                .upsert_value(&object, self.field, self.value, body, &self.options)
                .await
        })
    }
}

// Debug shows the target, never the record (it may hold customer data).
impl<R> std::fmt::Debug for Create<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Create")
            .field("object", &self.object)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<R> std::fmt::Debug for Update<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Update")
            .field("object", &self.object)
            .field("id", &self.id)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<R> std::fmt::Debug for Upsert<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upsert")
            .field("object", &self.object)
            .field("field", &self.field)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Creates a record; await it for the new id. Set `.options(..)`, and
    /// `.object(..)` for a [`DynamicRecord`].
    pub fn create<'a, R: WriteRecord>(&'a self, record: &'a R) -> Create<'a, R> {
        Create {
            client: self,
            record,
            object: None,
            options: WriteOptions::default(),
        }
    }

    /// Updates a record by id.
    pub fn update<'a, R: WriteRecord>(
        &'a self,
        id: &'a SalesforceId,
        record: &'a R,
    ) -> Update<'a, R> {
        Update {
            client: self,
            id,
            record,
            object: None,
            options: WriteOptions::default(),
        }
    }

    /// Creates or updates the record whose external id `field` holds `value`.
    pub fn upsert<'a, R: WriteRecord>(
        &'a self,
        field: &'a str,
        value: &'a str,
        record: &'a R,
    ) -> Upsert<'a, R> {
        Upsert {
            client: self,
            field,
            value,
            record,
            object: None,
            options: WriteOptions::default(),
        }
    }
}
