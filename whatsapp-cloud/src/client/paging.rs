//! Graph API cursor pagination: `{data, paging: {cursors: {after}, next}}`.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::Client;
use crate::account::Page;
use crate::error::Error;

/// A page as the API sends it.
#[derive(Deserialize)]
pub(crate) struct Wire<T> {
    #[serde(default = "Vec::new")]
    pub(crate) data: Vec<T>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    #[serde(default)]
    cursors: Option<Cursors>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct Cursors {
    #[serde(default)]
    after: Option<String>,
}

impl<T> Wire<T> {
    /// The cursor of the next page: only when the API says there is one.
    fn next_cursor(&mut self) -> Option<String> {
        self.paging
            .take()
            .filter(|p| p.next.is_some())
            .and_then(|p| p.cursors)
            .and_then(|c| c.after)
    }
}

/// A safety stop for a server that never ends its pagination.
const MAX_PAGES: usize = 1_000;

/// One page of up to `limit` items after `after`.
pub(crate) async fn page<T: DeserializeOwned>(
    client: &Client,
    op: &'static str,
    url: &Url,
    query: &[(&str, String)],
    after: Option<&str>,
    limit: u32,
) -> Result<Page<T>, Error> {
    let mut q: Vec<(&str, String)> = query.to_vec();
    q.push(("limit", limit.max(1).to_string()));
    if let Some(a) = after {
        q.push(("after", a.to_owned()));
    }
    let mut wire: Wire<T> = client
        .execute(op, true, |http| http.get(url.clone()).query(&q))
        .await?;
    let next = wire.next_cursor();
    let empty = wire.data.is_empty();
    Ok(Page {
        data: wire.data,
        // A repeated or empty page ends the walk, whatever the cursor says.
        after: next.filter(|n| !empty && Some(n.as_str()) != after),
    })
}

/// Every item, page by page (100 at a time) to the end.
pub(crate) async fn collect<T: DeserializeOwned>(
    client: &Client,
    op: &'static str,
    url: &Url,
    query: &[(&str, String)],
) -> Result<Vec<T>, Error> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page: Page<T> = page(client, op, url, query, after.as_deref(), 100).await?;
        out.extend(page.data);
        match page.after {
            Some(next) => after = Some(next),
            None => return Ok(out),
        }
    }
    Ok(out)
}
