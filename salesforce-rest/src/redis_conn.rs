//! Connections to Redis for the SDK's Redis-backed stores (feature `redis`):
//! one node, or a cluster, chosen by the URL. The token store and the replay
//! ids here use it, and so do `bridge-core`'s stores (it re-exports it as
//! `bridge_core::redis_conn`).
//!
//! | URL | Mode |
//! |---|---|
//! | `redis://[user:password@]host:port[/db]` | one node (or a primary with replicas) |
//! | `rediss://...` | the same over TLS |
//! | `redis+cluster://[user:password@]host1:port1,host2:port2` | a cluster, reached through any of the nodes named |
//! | `rediss+cluster://...` | a cluster over TLS (AWS ElastiCache Serverless, MemoryDB) |
//! | `redis://a:7000,redis://b:7001` | a cluster: several `,`-separated node URLs |
//!
//! A cluster connection follows `MOVED` and `ASK` redirections and
//! refreshes the slot map when the topology changes (a failover). Every
//! store keeps the keys of one logical unit (a queue, a lease) under one
//! hash tag, so each of its scripts runs in one slot.
//!
//! # Faults are bounded
//!
//! A command never waits longer than [`RESPONSE_TIMEOUT`] for an answer,
//! and a connection attempt no longer than [`CONNECT_TIMEOUT`]. On a
//! cluster, a command whose node is gone is retried inside the client at
//! most [`CLUSTER_RETRIES`] times, a few milliseconds apart at first and
//! never more than [`CLUSTER_MAX_RETRY_WAIT`] apart, while the slot map is
//! refreshed (a replica is promoted in a second or two); after that the
//! error comes back to the caller, whose own retry takes over (a job is
//! retried, a webhook is answered 500 and redelivered). The redis crate's
//! own cluster defaults (16 retries, waits growing to 11 minutes) could hold
//! one command for many minutes after a failover.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;

/// The longest a command waits for its answer (a `WAIT` for replicas asks
/// for less: see [`RedisConnection::wait_for_replicas`]).
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest one connection attempt to a node takes.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest any command takes, retries included, before it fails with
/// a timeout: a last line of defence against a command that the client
/// keeps pending (seen with a cluster connection after its node was killed),
/// so that a caller's own retry can take over.
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(15);

/// How many times a cluster command is retried inside the client (after a
/// redirection, a lost node or `CLUSTERDOWN` during a failover) before its
/// error is returned.
pub const CLUSTER_RETRIES: u32 = 12;

/// The longest wait between two of those retries (they start at 25 ms and
/// double).
pub const CLUSTER_MAX_RETRY_WAIT: Duration = Duration::from_secs(1);

/// A Redis URL that does not parse, or a first connection that failed. The
/// message never shows a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RedisConnectError(String);

/// A connection to Redis, one node or a cluster (see the [module](self)
/// docs). Cheap to clone: clones share the underlying connections.
#[derive(Clone)]
pub struct RedisConnection {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No address, no credentials.
        f.debug_struct("RedisConnection")
            .field("cluster", &self.is_cluster())
            .finish()
    }
}

impl From<ConnectionManager> for RedisConnection {
    fn from(c: ConnectionManager) -> Self {
        Self {
            inner: Inner::Single(c),
        }
    }
}

impl From<ClusterConnection> for RedisConnection {
    fn from(c: ClusterConnection) -> Self {
        Self {
            inner: Inner::Cluster(c),
        }
    }
}

/// Where a URL points: one node, or the seed nodes of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Single(String),
    Cluster(Vec<String>),
}

/// Reads a Redis URL (see the [module](self) docs).
fn target(url: &str) -> Result<Target, String> {
    let url = url.trim();
    for (scheme, node_scheme) in [
        ("redis+cluster://", "redis://"),
        ("rediss+cluster://", "rediss://"),
    ] {
        if let Some(rest) = url.strip_prefix(scheme) {
            // Credentials, when given, are the cluster's: every node gets them.
            let (auth, hosts) = match rest.rsplit_once('@') {
                Some((auth, hosts)) => (format!("{auth}@"), hosts),
                None => (String::new(), rest),
            };
            let (hosts, tail) = match hosts.find(['/', '?', '#']) {
                Some(i) => hosts.split_at(i),
                None => (hosts, ""),
            };
            let nodes: Vec<String> = hosts
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(|h| format!("{node_scheme}{auth}{h}{tail}"))
                .collect();
            if nodes.is_empty() {
                return Err(format!("{scheme} names no node (host:port[,host:port...])"));
            }
            return Ok(Target::Cluster(nodes));
        }
    }
    let parts: Vec<&str> = url
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    match parts.as_slice() {
        [] => Err("the Redis URL is empty".into()),
        [one] => Ok(Target::Single((*one).to_owned())),
        many => Ok(Target::Cluster(
            many.iter().map(|p| (*p).to_owned()).collect(),
        )),
    }
}

impl RedisConnection {
    /// Connects to the node or cluster `url` names (see the [module](self)
    /// docs), reconnecting on its own afterwards.
    ///
    /// # Errors
    ///
    /// A URL that does not parse, or a first connection that fails; the
    /// message never shows the password.
    pub async fn connect(url: &str) -> Result<Self, RedisConnectError> {
        let invalid = |e: &dyn std::fmt::Display| {
            RedisConnectError(format!("invalid Redis URL: {}", redact(&e.to_string())))
        };
        match target(url).map_err(|e| invalid(&e))? {
            Target::Single(url) => {
                let client = redis::Client::open(url.as_str()).map_err(|e| invalid(&e))?;
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_connection_timeout(Some(CONNECT_TIMEOUT));
                let conn = ConnectionManager::new_with_config(client, config)
                    .await
                    .map_err(|e| {
                        RedisConnectError(format!(
                            "cannot connect to Redis: {}",
                            redact(&e.to_string())
                        ))
                    })?;
                Ok(conn.into())
            }
            Target::Cluster(nodes) => {
                let max_wait = u64::try_from(CLUSTER_MAX_RETRY_WAIT.as_millis()).unwrap_or(1000);
                let client = redis::cluster::ClusterClientBuilder::new(nodes)
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT)
                    // Each attempt is bounded; the whole command is bounded
                    // by the retries below, which must outlast a failover.
                    .overall_response_timeout(None)
                    .retries(CLUSTER_RETRIES)
                    .min_retry_wait(10)
                    .max_retry_wait(max_wait)
                    .retry_wait_formula(25, 2)
                    .build()
                    .map_err(|e| invalid(&e))?;
                let conn = client.get_async_connection().await.map_err(|e| {
                    RedisConnectError(format!(
                        "cannot connect to the Redis cluster: {}",
                        redact(&e.to_string())
                    ))
                })?;
                Ok(conn.into())
            }
        }
    }

    /// Whether this is a cluster connection.
    pub fn is_cluster(&self) -> bool {
        matches!(self.inner, Inner::Cluster(_))
    }

    /// Waits until `replicas` replicas acknowledged every write made so far
    /// on the connection to the node holding `key` (Redis's `WAIT`), at most
    /// `timeout` (capped one second short of [`RESPONSE_TIMEOUT`]); returns
    /// how many did. Ask for this after a write that
    /// must survive a failover (asynchronous replication loses what the
    /// primary had not passed on).
    ///
    /// # Errors
    ///
    /// The command failing (the node is down).
    pub async fn wait_for_replicas(
        &self,
        key: &str,
        replicas: u32,
        timeout: Duration,
    ) -> Result<u32, redis::RedisError> {
        let timeout = timeout.min(RESPONSE_TIMEOUT - Duration::from_secs(1));
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(replicas).arg(
            u64::try_from(timeout.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
        );
        let acked: i64 = match &self.inner {
            Inner::Single(_) => cmd.query_async(&mut self.clone()).await,
            Inner::Cluster(c) => {
                use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
                // To the primary that took the write, not to every primary.
                let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(
                    Route::with_key(key, SlotAddr::Master),
                ));
                bounded(c.clone().route_command(cmd, route))
                    .await
                    .and_then(|v| redis::from_redis_value(v).map_err(Into::into))
            }
        }?;
        Ok(u32::try_from(acked).unwrap_or(0))
    }
}

impl RedisConnection {
    /// How many replicas the primary holding `key` has connected now (its
    /// `INFO replication`): whether waiting for one ([`Self::wait_for_replicas`])
    /// can succeed.
    ///
    /// # Errors
    ///
    /// The command failing (the node is down).
    pub async fn replicas_of(&self, key: &str) -> Result<u32, redis::RedisError> {
        let mut cmd = redis::cmd("INFO");
        cmd.arg("replication");
        let info: String = match &self.inner {
            Inner::Single(_) => cmd.query_async(&mut self.clone()).await?,
            Inner::Cluster(c) => {
                use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
                let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(
                    Route::with_key(key, SlotAddr::Master),
                ));
                let v = bounded(c.clone().route_command(cmd, route)).await?;
                redis::from_redis_value(v)?
            }
        };
        Ok(info
            .lines()
            .find_map(|l| l.trim().strip_prefix("connected_slaves:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0))
    }
}

impl RedisConnection {
    /// Every key matching `pattern` (Redis's glob: `prefix:*`), from every
    /// primary of a cluster. A full walk of the keyspace (`SCAN`, 1,000 at a
    /// time, never blocking the server): for administration (erasing a
    /// customer), not the request path.
    ///
    /// # Errors
    ///
    /// A command failing (a node is down).
    pub async fn scan_match(&self, pattern: &str) -> Result<Vec<String>, redis::RedisError> {
        let mut keys = Vec::new();
        match &self.inner {
            Inner::Single(_) => {
                let mut conn = self.clone();
                let mut cursor = 0u64;
                loop {
                    let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut conn)
                        .await?;
                    keys.extend(batch);
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
            }
            Inner::Cluster(c) => {
                use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
                let mut c = c.clone();
                let nodes = bounded(c.route_command(
                    redis::cmd("CLUSTER").arg("NODES").clone(),
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
                ))
                .await?;
                let nodes: String = redis::from_redis_value(nodes)?;
                for (host, port) in primaries(&nodes) {
                    let mut cursor = 0u64;
                    loop {
                        let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                            host: host.clone(),
                            port,
                        });
                        let mut cmd = redis::cmd("SCAN");
                        cmd.arg(cursor)
                            .arg("MATCH")
                            .arg(pattern)
                            .arg("COUNT")
                            .arg(1000);
                        let v = bounded(c.route_command(cmd, route)).await?;
                        let (next, batch): (u64, Vec<String>) = redis::from_redis_value(v)?;
                        keys.extend(batch);
                        if next == 0 {
                            break;
                        }
                        cursor = next;
                    }
                }
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

/// The primaries' addresses in a `CLUSTER NODES` answer
/// (`<id> <ip:port@cport[,hostname]> <flags> ...`), failed ones left out.
fn primaries(nodes: &str) -> Vec<(String, u16)> {
    nodes
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let (_id, addr, flags) = (parts.next()?, parts.next()?, parts.next()?);
            let flags: Vec<&str> = flags.split(',').collect();
            if !flags.contains(&"master") || flags.iter().any(|f| f.starts_with("fail")) {
                return None;
            }
            let hostport = addr.split(['@', ',']).next()?;
            let (host, port) = hostport.rsplit_once(':')?;
            Some((host.trim_matches(['[', ']']).to_owned(), port.parse().ok()?))
        })
        .collect()
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        let answer = match &mut self.inner {
            Inner::Single(c) => c.req_packed_command(cmd),
            Inner::Cluster(c) => c.req_packed_command(cmd),
        };
        Box::pin(bounded(answer))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        let answer = match &mut self.inner {
            Inner::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Inner::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        };
        Box::pin(bounded(answer))
    }

    fn get_db(&self) -> i64 {
        match &self.inner {
            Inner::Single(c) => c.get_db(),
            Inner::Cluster(c) => c.get_db(),
        }
    }
}

/// `answer`, or a timeout error after [`COMMAND_DEADLINE`].
async fn bounded<T>(
    answer: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> redis::RedisResult<T> {
    match tokio::time::timeout(COMMAND_DEADLINE, answer).await {
        Ok(answer) => answer,
        Err(_) => Err(redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "no answer from Redis within {}s (is the node down or failing over?)",
                COMMAND_DEADLINE.as_secs()
            ),
        ))),
    }
}

/// An error text with any `user:password@` of a URL in it removed.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail.find([' ', '/', ',', '"', '\'']).unwrap_or(tail.len());
        let (authority, after) = tail.split_at(end);
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("[redacted]@");
                out.push_str(&authority[at + 1..]);
            }
            None => out.push_str(authority),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn primaries_are_read_from_cluster_nodes_and_failed_ones_left_out() {
        let nodes = "07c3 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460\n\
                     67ed 127.0.0.1:30002@40002,host-b master - 0 0 2 connected 5461-10922\n\
                     292f 127.0.0.1:30004@40004 slave 07c3 0 0 1 connected\n\
                     824f 127.0.0.1:30003@40003 master,fail - 0 0 3 disconnected\n";
        assert_eq!(
            super::primaries(nodes),
            vec![
                ("127.0.0.1".to_owned(), 30001),
                ("127.0.0.1".to_owned(), 30002)
            ]
        );
    }

    use super::*;

    #[test]
    fn urls_choose_one_node_or_a_cluster() {
        assert_eq!(
            target("redis://127.0.0.1:6379/"),
            Ok(Target::Single("redis://127.0.0.1:6379/".into()))
        );
        assert_eq!(
            target("redis+cluster://app:s3cret@10.0.0.1:7000,10.0.0.2:7001"),
            Ok(Target::Cluster(vec![
                "redis://app:s3cret@10.0.0.1:7000".into(),
                "redis://app:s3cret@10.0.0.2:7001".into()
            ]))
        );
        assert_eq!(
            target("rediss+cluster://cache.example.com:6379"),
            Ok(Target::Cluster(vec![
                "rediss://cache.example.com:6379".into()
            ]))
        );
        assert_eq!(
            target("redis://a:7000, redis://b:7001"),
            Ok(Target::Cluster(vec![
                "redis://a:7000".into(),
                "redis://b:7001".into()
            ]))
        );
        assert!(target("redis+cluster://").is_err());
        assert!(target("  ").is_err());
    }

    #[test]
    fn passwords_never_reach_error_texts() {
        assert_eq!(
            redact("cannot reach redis://app:s3cret@10.0.0.1:7000/0 (refused)"),
            "cannot reach redis://[redacted]@10.0.0.1:7000/0 (refused)"
        );
        assert_eq!(redact("no url here"), "no url here");
    }

    #[tokio::test]
    async fn a_bad_url_is_a_typed_error_without_the_password() {
        let e = RedisConnection::connect("redis+cluster://app:s3cret@")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid Redis URL"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
    }
}
