//! One message, one composite call: support messages open or join a Case,
//! sales messages reach the customer's Contact or Lead, and the message's
//! ledger record is written in the same call, blind, on its key.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use salesforce_rest::composite::{CompositeRequest, Subrequest};
use salesforce_rest::soql::Soql;
use serde_json::{Map, Value, json};

use super::entries::{is_duplicate, rows, save_results};
use super::{SalesforceWriter, api_error, api_name, case_key};
use crate::customers::{CaseLink, ContactLink, CustomerRecord};
use crate::error::BridgeError;
use crate::format::phone;
use crate::inbound::CustomerMessage;
use crate::ledger::{LedgerEntry, Link, ledger_key};
use crate::mapping::{CaseDraft, LeadDraft, limits, truncate_chars};
use crate::routing::{Priority, Route};
use crate::writer::{Acknowledgement, WriteOutcome};

/// Customers per Contact query (each brings ten stored forms of its number
/// per phone field: the query URL stays well under 16 KB).
pub(super) const CUSTOMERS_PER_CONTACT_QUERY: usize = 25;

/// The result of a Contact lookup for one customer.
pub(super) type ContactFound = Option<ContactLink>;

impl SalesforceWriter {
    /// The key a message's effects are upserted on: its own id, or for an
    /// edit the id of the message it edits.
    pub(super) fn message_key(m: &CustomerMessage) -> String {
        case_key(m.edit_of.as_deref().unwrap_or(&m.id))
    }

    /// The inbound ledger entry of a message (an edit rewrites the original's).
    pub(super) fn inbound_entry(m: &CustomerMessage, tags: &[String]) -> LedgerEntry {
        let mut e = LedgerEntry::inbound(m);
        if let Some(original) = &m.edit_of {
            e.key = ledger_key(original);
            e.body = e.body.map(|b| format!("(edited) {b}"));
        }
        e.tags = tags.to_vec();
        e
    }

    /// The tags of a sales message: the draft's, else the matched keywords.
    pub(super) fn lead_tags<'a>(lead: &'a LeadDraft, route: &'a Route) -> &'a [String] {
        if lead.tags.is_empty() {
            &route.matched
        } else {
            &lead.tags
        }
    }

    /// What the store knows of the customer (an empty record when nothing,
    /// or when the store cannot be read: the Contact is then looked up again).
    pub(super) async fn customer_record(
        &self,
        customer: &str,
        now: DateTime<Utc>,
    ) -> CustomerRecord {
        match self.customers.get(customer, now).await {
            Ok(r) => r.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %e, "the customer store could not be read; looking the customer up again");
                CustomerRecord::default()
            }
        }
    }

    /// Keeps the record (a failure costs a lookup later, never a message).
    pub(super) async fn remember_customer(
        &self,
        customer: &str,
        record: &CustomerRecord,
        now: DateTime<Utc>,
    ) {
        let keep = self.thread_window.max(self.contacts.recheck_after);
        if let Err(e) = self.customers.put(customer, record, keep, now).await {
            tracing::warn!(error = %e, "the customer store could not be written");
        }
    }

    /// Whether the record's Contact answer must be looked up (again).
    pub(super) fn needs_contact_lookup(&self, r: &CustomerRecord, now: DateTime<Utc>) -> bool {
        self.contacts.enabled
            && r.contact_checked_at.is_none_or(|at| {
                chrono::Duration::from_std(self.contacts.recheck_after)
                    .is_ok_and(|keep| now - at > keep)
            })
    }

    /// Whether the customer must be looked up now. A customer the store has
    /// never seen is no Contact, without a lookup, while the synced Contact
    /// directory is fresh (`sync_contacts`); the record then says so.
    pub(super) async fn contact_lookup_due(
        &self,
        r: &mut CustomerRecord,
        now: DateTime<Utc>,
    ) -> bool {
        if !self.needs_contact_lookup(r, now) {
            return false;
        }
        if r.contact_checked_at.is_none() && self.directory_fresh(now).await {
            r.contact = None;
            r.contact_checked_at = Some(now);
            return false;
        }
        true
    }

    /// Looks customers (E.164 keys) up among Contacts: five queries of 25
    /// customers per call. A query error fails them all (never a Lead by
    /// default: the message is retried).
    pub(super) async fn lookup_contacts(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, ContactFound>, BridgeError> {
        let mut found: HashMap<String, ContactFound> =
            keys.iter().map(|k| (k.clone(), None)).collect();
        if keys.len() <= CUSTOMERS_PER_CONTACT_QUERY {
            // One query: a plain GET (retried like any read).
            let rows = self
                .client
                .query::<Value>(&self.contact_soql(keys)?)
                .await?
                .records;
            self.assign_contacts(keys, rows, &mut found);
            return Ok(found);
        }
        for call in keys.chunks(CUSTOMERS_PER_CONTACT_QUERY * super::entries::HEAVY_PER_CALL) {
            let mut request = CompositeRequest::new(false);
            for (n, chunk) in call.chunks(CUSTOMERS_PER_CONTACT_QUERY).enumerate() {
                request = request.push(Subrequest::new(
                    "GET",
                    self.client.query_path(&self.contact_soql(chunk)?),
                    format!("contacts{n}"),
                ));
            }
            let out = self.client.composite(&request).await?;
            let mut all = Vec::new();
            for r in out.iter() {
                if let Some(e) = api_error(r) {
                    return Err(e);
                }
                all.extend(rows(Some(r)));
            }
            self.assign_contacts(call, all, &mut found);
        }
        Ok(found)
    }

    /// Gives each customer the Contact rows that carry their number.
    fn assign_contacts(
        &self,
        call: &[String],
        all: Vec<Value>,
        found: &mut HashMap<String, ContactFound>,
    ) {
        {
            let mut by_key: HashMap<String, Vec<Value>> = HashMap::new();
            for row in all {
                for key in self.contact_keys(&row) {
                    by_key.entry(key).or_default().push(row.clone());
                }
            }
            for key in call {
                let mut matches = by_key.remove(key).unwrap_or_default();
                matches.dedup_by(|a, b| a["Id"] == b["Id"]);
                // The most recently modified Contact wins; the others are counted.
                matches.sort_by(|a, b| {
                    b["SystemModstamp"]
                        .as_str()
                        .unwrap_or("")
                        .cmp(a["SystemModstamp"].as_str().unwrap_or(""))
                });
                let others = u32::try_from(matches.len().saturating_sub(1)).unwrap_or(u32::MAX);
                let link = matches.first().and_then(|row| {
                    let mut l = ContactLink::new(
                        row["Id"].as_str()?,
                        row["AccountId"].as_str().map(str::to_owned),
                    );
                    l.others = others;
                    Some(l)
                });
                if others > 0 {
                    tracing::warn!(
                        contacts = others + 1,
                        customer = %crate::audit::redact_phone(key),
                        "several Contacts share the customer's number: the most recently modified one is used"
                    );
                }
                found.insert(key.clone(), link);
            }
        }
    }

    fn contact_soql(&self, keys: &[String]) -> Result<String, BridgeError> {
        if let Some(field) = &self.contacts.key_field {
            let field = api_name(field)?;
            return Ok(Soql::new(format!(
                "SELECT Id, AccountId, SystemModstamp, {field} FROM Contact WHERE {field} IN {{}}"
            ))
            .bind(keys)
            .build()?);
        }
        let forms: Vec<String> = keys
            .iter()
            .flat_map(|k| phone::parse(k).map_or_else(|_| vec![k.clone()], |p| p.common_forms()))
            .collect();
        let fields: Vec<&str> = self
            .contacts
            .phone_fields
            .iter()
            .map(|f| api_name(f))
            .collect::<Result<_, _>>()?;
        if fields.is_empty() {
            return Err(BridgeError::Mapping(
                "Contact matching has no phone fields: configure some, or ContactMatching::off()"
                    .into(),
            ));
        }
        let condition = fields
            .iter()
            .map(|f| format!("{f} IN {{}}"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let mut soql = Soql::new(format!(
            "SELECT Id, AccountId, SystemModstamp, {} FROM Contact WHERE {condition}",
            fields.join(", ")
        ));
        for _ in &fields {
            soql = soql.bind(&forms);
        }
        Ok(soql.build()?)
    }

    /// A support message: it joins the customer's open Case, or opens one.
    pub(super) async fn support_message(
        &self,
        case: &CaseDraft,
        route: &Route,
        m: &CustomerMessage,
    ) -> Result<WriteOutcome, BridgeError> {
        let now = self.clock.now();
        let customer = self.lead_key(m);
        let key = Self::message_key(m);
        let entry = Self::inbound_entry(m, &route.matched);
        let mut record = match &customer {
            Some(k) => self.customer_record(k, now).await,
            None => CustomerRecord::default(),
        };
        if let Some(k) = &customer
            && self.contact_lookup_due(&mut record, now).await
        {
            if record.open_case.is_none() && m.edit_of.is_none() {
                // A first-seen customer: the Contact lookup rides in the
                // Case's own call, and the Case takes the Contact from it.
                let (out, contact) = self.open_case_looking_up(k, &key, case, &entry).await?;
                record.contact = contact;
                record.contact_checked_at = Some(now);
                if let Some(id) = &out.record_id {
                    record.open_case =
                        Some(CaseLink::new(id.clone(), out.case_number.clone(), key, now));
                }
                self.remember_customer(k, &record, now).await;
                return Ok(out);
            }
            let found = self.lookup_contacts(std::slice::from_ref(k)).await?;
            record.contact = found.get(k).cloned().flatten();
            record.contact_checked_at = Some(now);
        }
        let joinable = record.open_case.clone().filter(|link| {
            link.opened_by != key
                && chrono::Duration::from_std(self.thread_window)
                    .is_ok_and(|w| now - link.last_message_at <= w)
        });
        let mut outcome = None;
        if let Some(link) = joinable {
            match self.join_case(&link, case, &entry, &record).await? {
                Some(out) => {
                    record.open_case = Some(CaseLink {
                        last_message_at: now,
                        ..link
                    });
                    outcome = Some(out);
                }
                None => record.open_case = None,
            }
        }
        let outcome = match outcome {
            Some(o) => o,
            None => {
                let out = self.open_case(&key, case, &entry, &record).await?;
                if m.edit_of.is_none()
                    && let Some(id) = &out.record_id
                {
                    record.open_case =
                        Some(CaseLink::new(id.clone(), out.case_number.clone(), key, now));
                }
                out
            }
        };
        if let Some(k) = &customer {
            self.remember_customer(k, &record, now).await;
        }
        Ok(outcome)
    }

    /// The Case's fields, with the customer's Contact and Account.
    pub(super) fn case_fields(
        &self,
        case: &CaseDraft,
        record: &CustomerRecord,
    ) -> Map<String, Value> {
        let mut fields = match serde_json::to_value(super::entries::case_record(case)) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        if let Some(c) = &record.contact {
            fields.insert("ContactId".into(), json!(c.id));
            if let Some(a) = &c.account_id {
                fields.insert("AccountId".into(), json!(a));
            }
        }
        fields
    }

    /// Opens (upserts) the Case of a message, its ledger record and the read
    /// of its number, in one call.
    async fn open_case(
        &self,
        key: &str,
        case: &CaseDraft,
        entry: &LedgerEntry,
        record: &CustomerRecord,
    ) -> Result<WriteOutcome, BridgeError> {
        let field = api_name(&self.case_key_field)?;
        let mut e = entry.clone().link(Link::CaseKey(key.to_owned()));
        if let Some(c) = &record.contact {
            e = e.link(Link::Contact(c.id.clone()));
        }
        let soql = Soql::new(format!(
            "SELECT Id, CaseNumber FROM Case WHERE {field} = {{}} LIMIT 1"
        ))
        .bind(key)
        .build()?;
        let request = CompositeRequest::new(false)
            .push(
                self.with_options(
                    Subrequest::new(
                        "PATCH",
                        self.client
                            .data_path(&format!("sobjects/Case/{field}/{key}")),
                        "kase",
                    )
                    .body(Value::Object(self.case_fields(case, record))),
                ),
            )
            .push(self.ledger_upsert(vec![self.entry_record(&e)], "msg")?)
            .push(Subrequest::new(
                "GET",
                self.client.query_path(&soql),
                "number",
            ));
        let out = self.client.composite(&request).await?;
        let written = out.first().ok_or_else(|| {
            BridgeError::Store("the Case write got no answer in the composite response".into())
        })?;
        if let Some(err) = api_error(written) {
            return Err(err);
        }
        self.ledger_result(save_results(out.get(1)))?;
        Ok(opened_case(written, rows(out.get(2)).first()))
    }

    /// Opens the Case of a first-seen customer's message in one call that also
    /// looks the customer up among Contacts: the Case and the ledger record
    /// take the most recently modified match (through references that only
    /// resolve when there is one), and the lookup's answer comes back.
    async fn open_case_looking_up(
        &self,
        customer: &str,
        key: &str,
        case: &CaseDraft,
        entry: &LedgerEntry,
    ) -> Result<(WriteOutcome, Option<ContactLink>), BridgeError> {
        let field = api_name(&self.case_key_field)?;
        if !self.contacts.enabled {
            return Ok((
                self.open_case(key, case, entry, &CustomerRecord::default())
                    .await?,
                None,
            ));
        }
        let number = Soql::new(format!(
            "SELECT Id, CaseNumber FROM Case WHERE {field} = {{}} LIMIT 1"
        ))
        .bind(key)
        .build()?;
        let with_contact = self.linked_to_looked_up_contact(&LedgerEntry {
            key: entry.key.clone(),
            ..LedgerEntry::default()
        });
        let request = CompositeRequest::new(false)
            .push(self.contact_lookup(customer)?)
            .push(
                self.with_options(
                    Subrequest::new(
                        "PATCH",
                        self.client
                            .data_path(&format!("sobjects/Case/{field}/{key}")),
                        "kase",
                    )
                    .body(Value::Object(
                        self.case_fields(case, &CustomerRecord::default()),
                    )),
                ),
            )
            .push(self.ledger_upsert(
                vec![self.entry_record(&entry.clone().link(Link::CaseKey(key.to_owned())))],
                "msg",
            )?)
            // Resolve only when a Contact matched: otherwise they fail alone.
            .push(
                Subrequest::new(
                    "PATCH",
                    self.client.data_path("sobjects/Case/@{kase.id}"),
                    "kc",
                )
                .body(json!({ "ContactId": "@{ct.records[0].Id}" })),
            )
            .push(self.ledger_upsert(vec![with_contact], "mc")?)
            .push(Subrequest::new(
                "GET",
                self.client.query_path(&number),
                "number",
            ))
            // The Account, when the Contact has one (a Contact without one
            // leaves this alone to fail).
            .push(
                Subrequest::new(
                    "PATCH",
                    self.client.data_path("sobjects/Case/@{kase.id}"),
                    "ka",
                )
                .body(json!({ "AccountId": "@{ct.records[0].AccountId}" })),
            );
        let out = self.client.composite(&request).await?;
        let contact = looked_up_contact(out.first())?;
        let written = out.get(1).ok_or_else(|| {
            BridgeError::Store("the Case write got no answer in the composite response".into())
        })?;
        if let Some(err) = api_error(written) {
            return Err(err);
        }
        self.ledger_result(save_results(out.get(2)))?;
        if contact.is_some() {
            // The Contact links must have held: else try the whole again.
            if let Some(err) = out.get(3).and_then(api_error) {
                return Err(err);
            }
            self.ledger_result(save_results(out.get(4)))?;
        }
        Ok((opened_case(written, rows(out.get(5)).first()), contact))
    }

    /// Links the message to the open Case (raising its priority for urgent
    /// words) and reads the Case back: `None` when it was closed or deleted
    /// meanwhile, and a new Case is due.
    async fn join_case(
        &self,
        link: &CaseLink,
        case: &CaseDraft,
        entry: &LedgerEntry,
        record: &CustomerRecord,
    ) -> Result<Option<WriteOutcome>, BridgeError> {
        let id = salesforce_rest::SalesforceId::parse(&link.id).map_err(|e| {
            BridgeError::Mapping(format!("the stored open Case id is not an id: {e}"))
        })?;
        let mut e = entry.clone().link(Link::Case(id.to_string()));
        if let Some(c) = &record.contact {
            e = e.link(Link::Contact(c.id.clone()));
        }
        let mut request = CompositeRequest::new(false)
            .push(self.ledger_upsert(vec![self.entry_record(&e)], "msg")?);
        if case.priority == Priority::High {
            request = request.push(
                Subrequest::new(
                    "PATCH",
                    self.client.data_path(&format!("sobjects/Case/{id}")),
                    "priority",
                )
                .body(json!({ "Priority": Priority::High.as_str() })),
            );
        }
        let soql = Soql::new("SELECT Id, CaseNumber, IsClosed, Status FROM Case WHERE Id = {}")
            .bind(id.as_str())
            .build()?;
        request = request.push(Subrequest::new(
            "GET",
            self.client.query_path(&soql),
            "state",
        ));
        let out = self.client.composite(&request).await?;
        self.ledger_result(save_results(out.first()))?;
        let row = rows(out.last()).into_iter().next();
        let open = row.as_ref().is_some_and(|r| !case_closed(r));
        if !open {
            return Ok(None);
        }
        let number = row
            .as_ref()
            .and_then(|r| r["CaseNumber"].as_str())
            .map(str::to_owned)
            .or_else(|| link.number.clone());
        Ok(Some(WriteOutcome {
            object: "Case".into(),
            record_id: Some(id.to_string()),
            created: false,
            acknowledgement: number
                .clone()
                .map(|number| Acknowledgement::CaseJoined { number }),
            case_number: number,
            follow_up_task: None,
        }))
    }

    /// Looks a first-seen customer up among Contacts and, in the same call,
    /// writes the message's ledger record linked to the match (a reference
    /// that only resolves when there is one). `None`: no Contact, nothing
    /// written.
    async fn contact_or_nothing(
        &self,
        customer: &str,
        entry: &LedgerEntry,
    ) -> Result<Option<ContactLink>, BridgeError> {
        if !self.contacts.enabled {
            return Ok(None);
        }
        let request = CompositeRequest::new(false)
            .push(self.contact_lookup(customer)?)
            .push(self.ledger_upsert(vec![self.linked_to_looked_up_contact(entry)], "mc")?);
        let out = self.client.composite(&request).await?;
        let contact = looked_up_contact(out.first())?;
        if contact.is_some() {
            self.ledger_result(save_results(out.get(1)))?;
        }
        Ok(contact)
    }

    /// The lookup of a first-seen customer inside a composite call
    /// (reference `ct`): their Contacts, the most recently modified first.
    fn contact_lookup(&self, customer: &str) -> Result<Subrequest, BridgeError> {
        let soql = format!(
            "{} ORDER BY SystemModstamp DESC",
            self.contact_soql(&[customer.to_owned()])?
        );
        Ok(Subrequest::new("GET", self.client.query_path(&soql), "ct"))
    }

    /// A ledger record linked to the Contact `ct` found: the reference only
    /// resolves on a match, so without one the write fails alone.
    fn linked_to_looked_up_contact(&self, entry: &LedgerEntry) -> Value {
        let mut record = self.entry_record(entry);
        if let Value::Object(m) = &mut record {
            m.insert(self.ledger.contact.clone(), json!("@{ct.records[0].Id}"));
        }
        record
    }

    /// A sales message: the Contact's when the number is a known Contact's,
    /// else the customer's Lead (made by the first such message).
    pub(super) async fn sales_message(
        &self,
        lead: &LeadDraft,
        route: &Route,
        follow_up_hours: Option<u32>,
        m: &CustomerMessage,
    ) -> Result<WriteOutcome, BridgeError> {
        let now = self.clock.now();
        let entry = Self::inbound_entry(m, Self::lead_tags(lead, route));
        let Some(key) = self.lead_key(m) else {
            // No number (a user id only): the conversation still keeps the message.
            if let Some(Err(e)) = self.write_entries(&[entry]).await.into_iter().next() {
                return Err(e);
            }
            return Ok(WriteOutcome::default());
        };
        let mut record = self.customer_record(&key, now).await;
        if self.contact_lookup_due(&mut record, now).await {
            // A first-seen customer: one call looks them up and, when they
            // are a Contact, writes the message to the Contact already.
            let found = self.contact_or_nothing(&key, &entry).await?;
            record.contact_checked_at = Some(now);
            if let Some(contact) = found {
                record.contact = Some(contact.clone());
                self.remember_customer(&key, &record, now).await;
                return Ok(WriteOutcome {
                    object: "Contact".into(),
                    record_id: Some(contact.id),
                    ..WriteOutcome::default()
                });
            }
            record.contact = None;
        }
        let outcome = match record.contact.clone() {
            Some(contact) => {
                let e = entry.link(Link::Contact(contact.id.clone()));
                let request = CompositeRequest::new(false)
                    .push(self.ledger_upsert(vec![self.entry_record(&e)], "msg")?);
                let out = self.client.composite(&request).await?;
                self.ledger_result(save_results(out.first()))?;
                WriteOutcome {
                    object: "Contact".into(),
                    record_id: Some(contact.id),
                    ..WriteOutcome::default()
                }
            }
            None => {
                let (outcome, converted_to) = self
                    .write_lead(&key, lead, &entry, follow_up_hours, m)
                    .await?;
                if let Some(contact) = converted_to {
                    // Converted since we last looked: its Contact from now on.
                    record.contact = Some(contact);
                    record.contact_checked_at = Some(now);
                }
                outcome
            }
        };
        self.remember_customer(&key, &record, now).await;
        Ok(outcome)
    }

    /// The fields of a new Lead, with this message as its first.
    pub(super) fn new_lead_fields(
        &self,
        key: &str,
        d: &LeadDraft,
        m: &CustomerMessage,
    ) -> Map<String, Value> {
        let mut f = Map::new();
        f.insert(self.lead_key_field.clone(), json!(key));
        f.insert(
            self.first_message_field.clone(),
            json!(Self::message_key(m)),
        );
        f.insert("LastName".into(), json!(d.last_name));
        f.insert("Company".into(), json!(d.company));
        f.insert("LeadSource".into(), json!(d.lead_source));
        f.insert(
            "Description".into(),
            json!(truncate_chars(&d.description, limits::DESCRIPTION)),
        );
        if let Some(first) = &d.first_name {
            f.insert("FirstName".into(), json!(first));
        }
        if let Some(p) = &d.phone {
            f.insert("Phone".into(), json!(p));
        }
        if let Some(at) = &self.last_message_at_field {
            f.insert(
                at.clone(),
                json!(m.sent_at.unwrap_or_else(|| self.clock.now()).to_rfc3339()),
            );
        }
        f
    }

    /// The follow-up Task of a new Lead (`who`: its id or a reference).
    pub(super) fn follow_up_fields(
        &self,
        d: &LeadDraft,
        m: &CustomerMessage,
        hours: u32,
        who: &str,
    ) -> Map<String, Value> {
        let sent = m.sent_at.unwrap_or_else(|| self.clock.now());
        let due = (sent + chrono::Duration::hours(i64::from(hours))).date_naive();
        let mut f = Map::new();
        f.insert(
            "Subject".into(),
            json!(format!("Follow up on {} enquiry", m.channel.name())),
        );
        f.insert(
            "Description".into(),
            json!(truncate_chars(&d.description, limits::DESCRIPTION)),
        );
        f.insert("WhoId".into(), json!(who));
        f.insert("ActivityDate".into(), json!(due.to_string()));
        f.insert("Status".into(), json!("Not Started"));
        f
    }

    /// The fields a returning customer's Lead gets (last writer wins).
    pub(super) fn lead_touch(&self, key: &str, m: &CustomerMessage) -> Option<Map<String, Value>> {
        let at = self.last_message_at_field.as_ref()?;
        let mut f = Map::new();
        f.insert("attributes".into(), json!({ "type": "Lead" }));
        f.insert(self.lead_key_field.clone(), json!(key));
        f.insert(
            at.clone(),
            json!(m.sent_at.unwrap_or_else(|| self.clock.now()).to_rfc3339()),
        );
        Some(f)
    }

    /// The read-back of Leads by key: id, first message, conversion.
    pub(super) fn lead_rows_soql(&self, keys: &[&str]) -> Result<String, BridgeError> {
        let key = api_name(&self.lead_key_field)?;
        let first = api_name(&self.first_message_field)?;
        Ok(Soql::new(format!(
            "SELECT Id, {key}, {first}, IsConverted, ConvertedContactId FROM Lead WHERE {key} IN {{}}"
        ))
        .bind(keys)
        .build()?)
    }

    /// The outcome for a Lead row: acknowledged when the Lead's first message
    /// is this one; a converted Lead hands over to its Contact.
    pub(super) fn lead_outcome(
        &self,
        row: Option<&Value>,
        m: &CustomerMessage,
    ) -> (WriteOutcome, Option<ContactLink>) {
        let first = row
            .and_then(|r| r.get(&self.first_message_field))
            .and_then(Value::as_str);
        let ours = first == Some(Self::message_key(m).as_str());
        let converted = row
            .filter(|r| r["IsConverted"].as_bool() == Some(true))
            .and_then(|r| r["ConvertedContactId"].as_str())
            .map(|c| ContactLink::new(c, None));
        (
            WriteOutcome {
                object: "Lead".into(),
                record_id: row.and_then(|r| r["Id"].as_str()).map(str::to_owned),
                created: ours,
                acknowledgement: (ours && m.edit_of.is_none()).then_some(Acknowledgement::Welcome),
                ..WriteOutcome::default()
            },
            converted,
        )
    }

    /// The Lead of a customer who is no Contact, in one call: insert (this
    /// message as its first; refused as a duplicate when the Lead exists),
    /// its follow-up Task, the touch of a returning Lead, the ledger record,
    /// the read-back.
    async fn write_lead(
        &self,
        key: &str,
        lead: &LeadDraft,
        entry: &LedgerEntry,
        follow_up_hours: Option<u32>,
        m: &CustomerMessage,
    ) -> Result<(WriteOutcome, Option<ContactLink>), BridgeError> {
        let mut request = CompositeRequest::new(false).push(
            self.with_options(
                Subrequest::new("POST", self.client.data_path("sobjects/Lead"), "new")
                    .body(Value::Object(self.new_lead_fields(key, lead, m))),
            ),
        );
        if let Some(hours) = follow_up_hours.filter(|_| m.edit_of.is_none()) {
            request = request.push(
                Subrequest::new("POST", self.client.data_path("sobjects/Task"), "task").body(
                    Value::Object(self.follow_up_fields(lead, m, hours, "@{new.id}")),
                ),
            );
        }
        if let Some(touch) = self.lead_touch(key, m) {
            let path = format!(
                "composite/sobjects/Lead/{}",
                api_name(&self.lead_key_field)?
            );
            request =
                request.push(self.collection("PATCH", &path, "touch", vec![Value::Object(touch)]));
        }
        let msg_at = request.len();
        let e = entry.clone().link(Link::LeadKey(key.to_owned()));
        request = request
            .push(self.ledger_upsert(vec![self.entry_record(&e)], "msg")?)
            .push(Subrequest::new(
                "GET",
                self.client.query_path(&self.lead_rows_soql(&[key])?),
                "row",
            ));
        let out = self.client.composite(&request).await?;
        let row = rows(out.last()).into_iter().next();
        if let Some(created) = out.first()
            && let Some(err) = api_error(created)
            && row.is_none()
        {
            // Not a duplicate: the Lead could not be made (validation...).
            return Err(err);
        }
        self.ledger_result(save_results(out.get(msg_at)))?;
        let (mut outcome, converted) = self.lead_outcome(row.as_ref(), m);
        if outcome.created {
            outcome.follow_up_task = out
                .iter()
                .find(|r| r.reference_id == "task")
                .filter(|r| r.error().is_none())
                .and_then(|r| r.body.get("id")?.as_str().map(str::to_owned));
        }
        Ok((outcome, converted))
    }
}

/// The answer of a `ct` lookup: the most recently modified Contact and how
/// many others share the number. A failed lookup is an error: nothing is
/// decided without its answer (the message is retried).
fn looked_up_contact(
    looked: Option<&salesforce_rest::composite::CompositeResponse>,
) -> Result<Option<ContactLink>, BridgeError> {
    let looked = looked.ok_or_else(|| {
        BridgeError::Store("the Contact lookup got no answer in the composite response".into())
    })?;
    if let Some(err) = api_error(looked) {
        return Err(err);
    }
    let contacts = rows(Some(looked));
    Ok(contacts.first().and_then(|row| {
        let mut link = ContactLink::new(
            row.get("Id")?.as_str()?,
            row.get("AccountId")
                .and_then(Value::as_str)
                .map(str::to_owned),
        );
        link.others = u32::try_from(contacts.len().saturating_sub(1)).unwrap_or(u32::MAX);
        Some(link)
    }))
}

/// The outcome of a Case upserted on its message key: its id (from the
/// write, else the read-back) and the number read back in the same call.
fn opened_case(
    written: &salesforce_rest::composite::CompositeResponse,
    row: Option<&Value>,
) -> WriteOutcome {
    let id = written
        .body
        .get("id")
        .or_else(|| row.and_then(|r| r.get("Id")))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let number = row
        .and_then(|r| r.get("CaseNumber"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    WriteOutcome {
        object: "Case".into(),
        record_id: id,
        created: written.http_status_code == 201,
        acknowledgement: number
            .clone()
            .map(|number| Acknowledgement::CaseOpened { number }),
        case_number: number,
        follow_up_task: None,
    }
}

/// Whether a Case row says it is closed.
pub(super) fn case_closed(row: &Value) -> bool {
    row["IsClosed"].as_bool() == Some(true)
        || row["Status"]
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("Closed"))
}

impl SalesforceWriter {
    /// The ledger record's result: its error fails the message (it is
    /// retried; the upsert makes the retry harmless), a missing ledger object
    /// is a set-up error.
    pub(super) fn ledger_result(
        &self,
        results: Result<Vec<salesforce_rest::sobjects::SaveResult>, BridgeError>,
    ) -> Result<(), BridgeError> {
        ledger_result(results).map_err(|e| self.ledger_error(e))
    }
}

/// The ledger record's result.
fn ledger_result(
    results: Result<Vec<salesforce_rest::sobjects::SaveResult>, BridgeError>,
) -> Result<(), BridgeError> {
    match results?.into_iter().next() {
        Some(r) if r.success => Ok(()),
        Some(r) if is_duplicate(&r) => Err(BridgeError::Store(
            "another write of the same ledger record raced this one; trying again".into(),
        )),
        Some(r) => Err(super::entries::record_error(r)),
        None => Ok(()),
    }
}
