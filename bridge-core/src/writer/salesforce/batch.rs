//! Many messages in a few calls. The customers of a batch are looked up
//! together (their Contacts, five queries of 25 per call); then follow-ups
//! join their open Cases (one call: their ledger records and the Cases'
//! state), new Cases are upserted on their message keys with their ledger
//! records and numbers read back (one call per 200), and Leads are inserted
//! (duplicates refused), touched, linked and read back (one call per 200,
//! plus one for the new Leads' follow-up Tasks). Each record's result goes to
//! its own message: one failure fails only that message.

use std::collections::{HashMap, HashSet};

use futures_util::future::join_all;
use salesforce_rest::composite::{CompositeRequest, Subrequest};
use salesforce_rest::soql::Soql;
use serde_json::{Value, json};

use super::SalesforceWriter;
use super::entries::{CHUNK, record_error, rows_from, save_results};
use super::message::case_closed;
use crate::customers::{CaseLink, CustomerRecord};
use crate::error::BridgeError;
use crate::inbound::CustomerMessage;
use crate::ledger::Link;
use crate::mapping::{Action, CaseDraft, LeadDraft};
use crate::routing::Route;
use crate::writer::{Acknowledgement, RecordWriter, WriteOutcome};

type Slot = Option<Result<WriteOutcome, BridgeError>>;

/// Keys per read-back query (keeps the query URL well under 16 KB).
const KEYS_PER_QUERY: usize = 100;

fn put(slots: &mut [Slot], i: usize, result: Result<WriteOutcome, BridgeError>) {
    if let Some(slot) = slots.get_mut(i) {
        *slot = Some(result);
    }
}

/// Fails every item of a group with the same (retryable) error.
fn fail_all(slots: &mut [Slot], items: impl Iterator<Item = usize>, e: &BridgeError) {
    let text = e.to_string();
    for i in items {
        put(
            slots,
            i,
            Err(BridgeError::Store(format!("the batch failed: {text}"))),
        );
    }
}

/// What one concurrent part of a batch decided: results by position and
/// the customers' records it changed.
struct Part {
    slots: Vec<Slot>,
    records: Vec<(String, CustomerRecord)>,
}

impl Part {
    fn new<'k>(
        slots: Vec<Slot>,
        mut records: HashMap<String, CustomerRecord>,
        keys: impl Iterator<Item = &'k String>,
    ) -> Self {
        let records = keys
            .filter_map(|k| records.remove_entry(k))
            .collect::<Vec<_>>();
        Self { slots, records }
    }

    fn merge_into(self, slots: &mut [Slot], records: &mut HashMap<String, CustomerRecord>) {
        for (i, s) in self.slots.into_iter().enumerate() {
            if let Some(result) = s {
                put(slots, i, result);
            }
        }
        records.extend(self.records);
    }
}

/// A message of the batch with what it needs.
struct Item<'a> {
    index: usize,
    key: String,
    m: &'a CustomerMessage,
    route: &'a Route,
}

impl SalesforceWriter {
    /// Writes a batch (see the module docs); what does not batch goes one by
    /// one, customers in parallel, each customer's messages in order.
    pub(super) async fn batch(
        &self,
        items: &[(Action, CustomerMessage)],
    ) -> Vec<Result<WriteOutcome, BridgeError>> {
        let now = self.clock.now();
        let mut slots: Vec<Slot> = items.iter().map(|_| None).collect();
        let mut seen = HashSet::new();
        let mut batched: Vec<(usize, String)> = Vec::new();
        for (i, (action, m)) in items.iter().enumerate() {
            if let Err(e) = self.check_budget(super::urgency(action)) {
                put(&mut slots, i, Err(e));
                continue;
            }
            let batchable = matches!(
                action,
                Action::CreateCase { .. } | Action::UpsertLead { .. }
            ) && m.edit_of.is_none();
            if let (true, Some(key)) = (batchable, self.lead_key(m))
                && seen.insert(key.clone())
            {
                batched.push((i, key));
            }
        }
        if batched.len() > 1 {
            self.batched(items, &batched, &mut slots, now).await;
        }
        // The rest one by one, customers in parallel, each customer in order.
        let mut by_customer: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, (_, m)) in items.iter().enumerate() {
            if slots.get(i).is_some_and(Option::is_none) {
                let who = m
                    .from
                    .address()
                    .map_or_else(|| format!("#{i}"), str::to_owned);
                by_customer.entry(who).or_default().push(i);
            }
        }
        let done = join_all(by_customer.into_values().map(|indexes| async move {
            let mut out = Vec::new();
            for i in indexes {
                if let Some((action, m)) = items.get(i) {
                    out.push((i, self.write(action, m).await));
                }
            }
            out
        }))
        .await;
        for (i, r) in done.into_iter().flatten() {
            put(&mut slots, i, r);
        }
        slots
            .into_iter()
            .map(|s| {
                s.unwrap_or_else(|| {
                    Err(BridgeError::Interrupted("no result for this write".into()))
                })
            })
            .collect()
    }

    async fn batched(
        &self,
        items: &[(Action, CustomerMessage)],
        batched: &[(usize, String)],
        slots: &mut [Slot],
        now: chrono::DateTime<chrono::Utc>,
    ) {
        let keys: Vec<&String> = batched.iter().map(|(_, k)| k).collect();
        let mut records: HashMap<String, CustomerRecord> = join_all(
            keys.iter()
                .map(|k| async move { ((*k).clone(), self.customer_record(k, now).await) }),
        )
        .await
        .into_iter()
        .collect();
        let mut unknown: Vec<String> = Vec::new();
        for (k, r) in &mut records {
            if self.contact_lookup_due(r, now).await {
                unknown.push(k.clone());
            }
        }
        if !unknown.is_empty() {
            match self.lookup_contacts(&unknown).await {
                Ok(found) => {
                    for (k, contact) in found {
                        if let Some(r) = records.get_mut(&k) {
                            r.contact = contact;
                            r.contact_checked_at = Some(now);
                        }
                    }
                }
                Err(e) => {
                    // Never a Lead for a customer we could not check: retried.
                    let unknown: HashSet<&String> = unknown.iter().collect();
                    let failed = batched
                        .iter()
                        .filter(|(_, k)| unknown.contains(k))
                        .map(|(i, _)| *i);
                    fail_all(slots, failed, &e);
                }
            }
        }
        let mut joins = Vec::new();
        let mut opens = Vec::new();
        let mut leads = Vec::new();
        let mut contacts = Vec::new();
        for (i, key) in batched {
            if slots.get(*i).is_some_and(Option::is_some) {
                continue;
            }
            let Some((action, m)) = items.get(*i) else {
                continue;
            };
            let record = records.get(key).cloned().unwrap_or_default();
            match action {
                Action::CreateCase { case, route } => {
                    let item = (
                        Item {
                            index: *i,
                            key: key.clone(),
                            m,
                            route,
                        },
                        case,
                    );
                    let message = Self::message_key(m);
                    let joinable = record.open_case.as_ref().is_some_and(|l| {
                        l.opened_by != message
                            && chrono::Duration::from_std(self.thread_window)
                                .is_ok_and(|w| now - l.last_message_at <= w)
                    });
                    if joinable {
                        joins.push(item);
                    } else {
                        opens.push(item);
                    }
                }
                Action::UpsertLead {
                    lead,
                    follow_up_hours,
                    route,
                } => {
                    let item = Item {
                        index: *i,
                        key: key.clone(),
                        m,
                        route,
                    };
                    if record.contact.is_some() {
                        contacts.push(item);
                    } else {
                        leads.push((item, lead, *follow_up_hours));
                    }
                }
                _ => {}
            }
        }
        // Joins, new Cases, Leads and Contacts' entries concern different
        // customers: their calls go out together, never one after another
        // (a batch costs the slowest call, not their sum). Each part works
        // on its own copy of the state and the results are merged after.
        let n = slots.len();
        let base = &records;
        let fresh = || -> Vec<Slot> { (0..n).map(|_| None).collect() };
        let joined = async {
            let (mut part, mut recs) = (fresh(), base.clone());
            let reopen = self.join_chunk(&joins, &mut recs, &mut part, now).await;
            (
                Part::new(part, recs, joins.iter().map(|(it, _)| &it.key)),
                reopen,
            )
        };
        let opened = join_all(opens.chunks(CHUNK).map(|chunk| async move {
            let (mut part, mut recs) = (fresh(), base.clone());
            self.open_chunk(chunk, &mut recs, &mut part, now).await;
            Part::new(part, recs, chunk.iter().map(|(it, _)| &it.key))
        }));
        let leads_done = join_all(leads.chunks(CHUNK).map(|chunk| async move {
            let (mut part, mut recs) = (fresh(), base.clone());
            self.lead_chunk(chunk, &mut recs, &mut part, now).await;
            Part::new(part, recs, chunk.iter().map(|(it, ..)| &it.key))
        }));
        let contacts_done = async {
            let mut part = fresh();
            self.contact_entries(&contacts, base, &mut part).await;
            Part::new(part, HashMap::new(), std::iter::empty())
        };
        let ((joined, reopen), opened, leads_done, contacts_done) =
            tokio::join!(joined, opened, leads_done, contacts_done);
        let mut parts = vec![joined, contacts_done];
        parts.extend(opened);
        parts.extend(leads_done);
        // Follow-ups whose Case turned out closed open a new one now.
        parts.extend(
            join_all(reopen.chunks(CHUNK).map(|chunk| async move {
                let (mut part, mut recs) = (fresh(), base.clone());
                self.open_chunk(chunk, &mut recs, &mut part, now).await;
                Part::new(part, recs, chunk.iter().map(|(it, _)| &it.key))
            }))
            .await,
        );
        for part in parts {
            part.merge_into(slots, &mut records);
        }
        for (i, key) in batched {
            if slots.get(*i).is_some_and(|s| matches!(s, Some(Ok(_))))
                && let Some(r) = records.get(key)
            {
                self.remember_customer(key, r, now).await;
            }
        }
    }

    /// Follow-ups joining open Cases: their ledger records and the Cases'
    /// state in one call. Returns the items whose Case was closed (they open
    /// a new one) and the updated records.
    async fn join_chunk<'a>(
        &self,
        joins: &[(Item<'a>, &'a CaseDraft)],
        records: &mut HashMap<String, CustomerRecord>,
        slots: &mut [Slot],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<(Item<'a>, &'a CaseDraft)> {
        let mut reopen = Vec::new();
        if joins.is_empty() {
            return reopen;
        }
        let links: Vec<(usize, CaseLink)> = joins
            .iter()
            .enumerate()
            .filter_map(|(n, (it, _))| Some((n, records.get(&it.key)?.open_case.clone()?)))
            .collect();
        let entries: Vec<Value> = joins
            .iter()
            .zip(&links)
            .map(|((it, _), (_, link))| {
                let mut e =
                    Self::inbound_entry(it.m, &it.route.matched).link(Link::Case(link.id.clone()));
                if let Some(c) = records.get(&it.key).and_then(|r| r.contact.clone()) {
                    e = e.link(Link::Contact(c.id));
                }
                self.entry_record(&e)
            })
            .collect();
        let ids: Vec<&str> = links.iter().map(|(_, l)| l.id.as_str()).collect();
        let request = (|| -> Result<CompositeRequest, BridgeError> {
            let mut r = CompositeRequest::new(false).push(self.ledger_upsert(entries, "msgs")?);
            for (n, chunk) in ids.chunks(KEYS_PER_QUERY * 2).enumerate() {
                let soql =
                    Soql::new("SELECT Id, CaseNumber, IsClosed, Status FROM Case WHERE Id IN {}")
                        .bind(chunk)
                        .build()?;
                r = r.push(Subrequest::new(
                    "GET",
                    self.client.query_path(&soql),
                    format!("state{n}"),
                ));
            }
            Ok(r)
        })();
        let answer = match request {
            Ok(r) => self.client.composite(&r).await.map_err(BridgeError::from),
            Err(e) => Err(e),
        };
        let out = match answer.and_then(|out| {
            save_results(out.first())
                .map_err(|e| self.ledger_error(e))
                .map(|r| (out, r))
        }) {
            Ok(x) => x,
            Err(e) => {
                fail_all(slots, joins.iter().map(|(it, _)| it.index), &e);
                return reopen;
            }
        };
        let (out, results) = out;
        let state: HashMap<String, Value> = rows_from(&out, 1)
            .into_iter()
            .filter_map(|r| Some((r.get("Id")?.as_str()?.to_owned(), r)))
            .collect();
        let mut results = results.into_iter();
        for ((it, case), (_, link)) in joins.iter().zip(&links) {
            let saved = results.next();
            let row = state.get(&link.id);
            match (saved, row) {
                (Some(r), _) if !r.success => {
                    put(slots, it.index, Err(self.ledger_error(record_error(r))));
                }
                (_, Some(row)) if !case_closed(row) => {
                    let number = row["CaseNumber"]
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| link.number.clone());
                    if let Some(rec) = records.get_mut(&it.key)
                        && let Some(l) = rec.open_case.as_mut()
                    {
                        l.last_message_at = now;
                    }
                    put(
                        slots,
                        it.index,
                        Ok(WriteOutcome {
                            object: "Case".into(),
                            record_id: Some(link.id.clone()),
                            acknowledgement: number
                                .clone()
                                .map(|number| Acknowledgement::CaseJoined { number }),
                            case_number: number,
                            ..WriteOutcome::default()
                        }),
                    );
                }
                _ => {
                    if let Some(rec) = records.get_mut(&it.key) {
                        rec.open_case = None;
                    }
                    reopen.push((
                        Item {
                            index: it.index,
                            key: it.key.clone(),
                            m: it.m,
                            route: it.route,
                        },
                        *case,
                    ));
                }
            }
        }
        reopen
    }

    /// New Cases: upserted on their message keys, their ledger records and
    /// their numbers read back, in one call.
    async fn open_chunk(
        &self,
        chunk: &[(Item<'_>, &CaseDraft)],
        records: &mut HashMap<String, CustomerRecord>,
        slots: &mut [Slot],
        now: chrono::DateTime<chrono::Utc>,
    ) {
        let field = self.case_key_field.clone();
        let keys: Vec<String> = chunk
            .iter()
            .map(|(it, _)| Self::message_key(it.m))
            .collect();
        let mut cases = Vec::new();
        let mut entries = Vec::new();
        for ((it, case), key) in chunk.iter().zip(&keys) {
            let record = records.get(&it.key).cloned().unwrap_or_default();
            let mut f = self.case_fields(case, &record);
            f.insert("attributes".into(), json!({ "type": "Case" }));
            f.insert(field.clone(), json!(key));
            cases.push(Value::Object(f));
            let mut e =
                Self::inbound_entry(it.m, &it.route.matched).link(Link::CaseKey(key.clone()));
            if let Some(c) = record.contact {
                e = e.link(Link::Contact(c.id));
            }
            entries.push(self.entry_record(&e));
        }
        let request = (|| -> Result<CompositeRequest, BridgeError> {
            let field = super::api_name(&field)?;
            let mut r = CompositeRequest::new(false)
                .push(self.collection(
                    "PATCH",
                    &format!("composite/sobjects/Case/{field}"),
                    "cases",
                    cases,
                ))
                .push(self.ledger_upsert(entries, "msgs")?);
            let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
            for (n, part) in refs.chunks(KEYS_PER_QUERY).enumerate() {
                let soql = Soql::new(format!(
                    "SELECT Id, CaseNumber, {field} FROM Case WHERE {field} IN {{}}"
                ))
                .bind(part)
                .build()?;
                r = r.push(Subrequest::new(
                    "GET",
                    self.client.query_path(&soql),
                    format!("n{n}"),
                ));
            }
            Ok(r)
        })();
        let answer = match request {
            Ok(r) => self.client.composite(&r).await.map_err(BridgeError::from),
            Err(e) => Err(e),
        };
        let out = match answer {
            Ok(out) => out,
            Err(e) => return fail_all(slots, chunk.iter().map(|(it, _)| it.index), &e),
        };
        let ledger = save_results(out.get(1)).map_err(|e| self.ledger_error(e));
        let (cases, ledger) = match (save_results(out.first()), ledger) {
            (Ok(c), Ok(l)) => (c, l),
            (Err(e), _) | (_, Err(e)) => {
                return fail_all(slots, chunk.iter().map(|(it, _)| it.index), &e);
            }
        };
        let numbers: HashMap<String, (String, Option<String>)> = rows_from(&out, 2)
            .into_iter()
            .filter_map(|r| {
                let key = r.get(&field)?.as_str()?.to_owned();
                let id = r.get("Id")?.as_str()?.to_owned();
                let number = r
                    .get("CaseNumber")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                Some((key, (id, number)))
            })
            .collect();
        let mut cases = cases.into_iter();
        let mut ledger = ledger.into_iter();
        for ((it, _), key) in chunk.iter().zip(&keys) {
            let (case, entry) = (cases.next(), ledger.next());
            let result = match (case, entry) {
                (Some(c), _) if !c.success => Err(record_error(c)),
                (_, Some(e)) if !e.success => Err(self.ledger_error(record_error(e))),
                (Some(c), Some(_)) => {
                    let found = numbers.get(key);
                    let id =
                        c.id.map(|i| i.to_string())
                            .or_else(|| found.map(|f| f.0.clone()));
                    let number = found.and_then(|f| f.1.clone());
                    if let (Some(id), Some(rec)) = (&id, records.get_mut(&it.key)) {
                        rec.open_case =
                            Some(CaseLink::new(id.clone(), number.clone(), key.clone(), now));
                    }
                    Ok(WriteOutcome {
                        object: "Case".into(),
                        record_id: id,
                        created: c.created.unwrap_or(false),
                        acknowledgement: number
                            .clone()
                            .map(|number| Acknowledgement::CaseOpened { number }),
                        case_number: number,
                        follow_up_task: None,
                    })
                }
                _ => Err(BridgeError::Interrupted(
                    "the collection answered fewer records than sent".into(),
                )),
            };
            put(slots, it.index, result);
        }
    }

    /// Leads: inserted with their first message (duplicates refused),
    /// touched, linked to their ledger records and read back in one call;
    /// the new ones' follow-up Tasks in one more.
    async fn lead_chunk(
        &self,
        chunk: &[(Item<'_>, &LeadDraft, Option<u32>)],
        records: &mut HashMap<String, CustomerRecord>,
        slots: &mut [Slot],
        now: chrono::DateTime<chrono::Utc>,
    ) {
        let mut new = Vec::new();
        let mut touches = Vec::new();
        let mut entries = Vec::new();
        // Follow-ups ride along, referring to the inserts: when every insert
        // succeeds (a burst of new customers) they cost nothing more.
        let mut follow = Vec::new();
        let mut follow_of = Vec::new();
        for (k, (it, lead, hours)) in chunk.iter().enumerate() {
            if let Some(h) = hours {
                let mut t = self.follow_up_fields(lead, it.m, *h, &format!("@{{leads[{k}].id}}"));
                t.insert("attributes".into(), json!({ "type": "Task" }));
                follow.push(Value::Object(t));
                follow_of.push(k);
            }
            let mut f = self.new_lead_fields(&it.key, lead, it.m);
            f.insert("attributes".into(), json!({ "type": "Lead" }));
            new.push(Value::Object(f));
            if let Some(t) = self.lead_touch(&it.key, it.m) {
                touches.push(Value::Object(t));
            }
            let e = Self::inbound_entry(it.m, Self::lead_tags(lead, it.route))
                .link(Link::LeadKey(it.key.clone()));
            entries.push(self.entry_record(&e));
        }
        let keys: Vec<&str> = chunk.iter().map(|(it, ..)| it.key.as_str()).collect();
        let request = (|| -> Result<(CompositeRequest, usize), BridgeError> {
            let mut r = CompositeRequest::new(false).push(self.collection(
                "POST",
                "composite/sobjects",
                "leads",
                new,
            ));
            if !follow.is_empty() {
                r = r.push(self.collection("POST", "composite/sobjects", "follow", follow.clone()));
            }
            if !touches.is_empty() {
                let path = format!(
                    "composite/sobjects/Lead/{}",
                    super::api_name(&self.lead_key_field)?
                );
                r = r.push(self.collection("PATCH", &path, "touch", touches));
            }
            let ledger_at = r.len();
            r = r.push(self.ledger_upsert(entries, "msgs")?);
            for (n, part) in keys.chunks(KEYS_PER_QUERY * 2).enumerate() {
                r = r.push(Subrequest::new(
                    "GET",
                    self.client.query_path(&self.lead_rows_soql(part)?),
                    format!("r{n}"),
                ));
            }
            Ok((r, ledger_at))
        })();
        let answer = match request {
            Ok((r, at)) => self
                .client
                .composite(&r)
                .await
                .map_err(BridgeError::from)
                .map(|o| (o, at)),
            Err(e) => Err(e),
        };
        let (out, ledger_at) = match answer {
            Ok(x) => x,
            Err(e) => return fail_all(slots, chunk.iter().map(|(it, ..)| it.index), &e),
        };
        let ledger = match save_results(out.get(ledger_at)).map_err(|e| self.ledger_error(e)) {
            Ok(l) => l,
            Err(e) => return fail_all(slots, chunk.iter().map(|(it, ..)| it.index), &e),
        };
        let inserted = save_results(out.first()).unwrap_or_default();
        // The follow-ups made in this call (none when an insert failed: the
        // collection's references halt it), by chunk position.
        let followed: HashMap<usize, String> = out
            .iter()
            .find(|r| r.reference_id == "follow")
            .and_then(|r| save_results(Some(r)).ok())
            .map(|saved| {
                follow_of
                    .iter()
                    .zip(saved)
                    .filter(|(_, r)| r.success)
                    .filter_map(|(k, r)| Some((*k, r.id?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let field = self.lead_key_field.clone();
        let found: HashMap<String, Value> = rows_from(&out, ledger_at + 1)
            .into_iter()
            .filter_map(|r| Some((r.get(&field)?.as_str()?.to_owned(), r)))
            .collect();
        let mut tasks = Vec::new();
        let mut task_of = Vec::new();
        let mut ledger = ledger.into_iter();
        let mut inserted = inserted.into_iter();
        for (k, (it, lead, hours)) in chunk.iter().enumerate() {
            let (entry, insert) = (ledger.next(), inserted.next());
            let inserted_now = insert.as_ref().is_some_and(|i| i.success);
            let row = found.get(&it.key);
            let result = match entry {
                Some(e) if !e.success => match insert {
                    // The Lead itself could not be made: say why.
                    Some(i) if !i.success && row.is_none() => Err(record_error(i)),
                    _ => Err(self.ledger_error(record_error(e))),
                },
                Some(_) if row.is_some() => {
                    let (outcome, converted) = self.lead_outcome(row, it.m);
                    if let (Some(c), Some(rec)) = (converted, records.get_mut(&it.key)) {
                        rec.contact = Some(c);
                        rec.contact_checked_at = Some(now);
                    }
                    let mut outcome = outcome;
                    outcome.follow_up_task = followed.get(&k).cloned();
                    // A Task only for a Lead inserted by this very call: an
                    // earlier attempt that inserted it made its Task with it.
                    if inserted_now
                        && outcome.follow_up_task.is_none()
                        && let (Some(h), Some(id)) = (hours, &outcome.record_id)
                    {
                        let mut t = self.follow_up_fields(lead, it.m, *h, id);
                        t.insert("attributes".into(), json!({ "type": "Task" }));
                        task_of.push(it.index);
                        tasks.push(Value::Object(t));
                    }
                    Ok(outcome)
                }
                _ => Err(BridgeError::Interrupted(
                    "the Lead was not read back; trying again".into(),
                )),
            };
            put(slots, it.index, result);
        }
        if !tasks.is_empty() {
            self.follow_ups(tasks, &task_of, slots).await;
        }
    }

    /// The follow-up Tasks of new Leads, one collection: a lost Task is
    /// logged, never a failed message.
    async fn follow_ups(&self, tasks: Vec<Value>, task_of: &[usize], slots: &mut [Slot]) {
        let request = CompositeRequest::new(false).push(self.collection(
            "POST",
            "composite/sobjects",
            "tasks",
            tasks,
        ));
        let saved = match self.client.composite(&request).await {
            Ok(out) => save_results(out.first()).unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %e, "follow-up Tasks of new Leads were not created");
                Vec::new()
            }
        };
        for (i, r) in task_of.iter().zip(saved) {
            if let Some(Some(Ok(outcome))) = slots.get_mut(*i) {
                outcome.follow_up_task = r.success.then(|| r.id.map(|id| id.to_string())).flatten();
            }
        }
    }

    /// Sales messages of known Contacts: their ledger records, one collection.
    async fn contact_entries(
        &self,
        contacts: &[Item<'_>],
        records: &HashMap<String, CustomerRecord>,
        slots: &mut [Slot],
    ) {
        if contacts.is_empty() {
            return;
        }
        let mut ids = Vec::new();
        let entries: Vec<_> = contacts
            .iter()
            .map(|it| {
                let id = records
                    .get(&it.key)
                    .and_then(|r| r.contact.clone())
                    .map(|c| c.id);
                ids.push(id.clone());
                let e = Self::inbound_entry(it.m, &it.route.matched);
                match id {
                    Some(id) => e.link(Link::Contact(id)),
                    None => e,
                }
            })
            .collect();
        let results = self.write_entries(&entries).await;
        for ((it, id), r) in contacts.iter().zip(ids).zip(results) {
            put(
                slots,
                it.index,
                r.map(|()| WriteOutcome {
                    object: "Contact".into(),
                    record_id: id,
                    ..WriteOutcome::default()
                }),
            );
        }
    }
}
