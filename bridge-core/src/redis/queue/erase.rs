//! Erasing one customer from a Redis queue: their jobs (found through the
//! groups and the dead-letter stream) and their completed keys (`HSCAN` of
//! the key index), each removed by a script.

use super::{KeysOf, RedisQueue, storage};
use crate::erase::Customer;
use crate::queue::QueueError;

/// `ARGV[1]`: a job id. Removes the job wherever it is (waiting, leased,
/// scheduled for a retry or dead), readies its group's next job when it
/// was the head, and forgets its key.
pub(super) const ERASE_JOB: &str = r"
local id = ARGV[1]
local f = redis.call('HMGET', J, fld(id, 'key'), fld(id, 'group'), fld(id, 'dentry'), fld(id, 'entry'))
if not f[1] then return 0 end
if f[3] then
  redis.call('XDEL', DEAD, f[3])
else
  if f[4] then
    redis.call('XACK', S, 'w', f[4])
    redis.call('XDEL', S, f[4])
  end
  redis.call('ZREM', L, id)
  redis.call('ZREM', R, id)
  redis.call('ZREM', LIVE, id)
  local was_head = ghead(f[2]) == id
  redis.call('ZREM', G, gm(f[2], id))
  if was_head then
    local nxt = ghead(f[2])
    if nxt then push(nxt) end
  end
end
redis.call('HDEL', K, f[1])
redis.call('ZREM', D, f[1])
drop(id)
return 1
";

/// `ARGV`: completed keys to forget.
pub(super) const FORGET_KEYS: &str = r"
for _, k in ipairs(ARGV) do
  redis.call('HDEL', K, k)
  redis.call('ZREM', D, k)
end
return #ARGV
";

impl RedisQueue {
    /// The ids of every job (live ones through the groups, dead ones through
    /// the dead-letter stream).
    async fn job_ids(&self) -> Result<Vec<String>, QueueError> {
        let mut conn = self.conn.clone();
        let members: Vec<Vec<u8>> = redis::cmd("ZRANGE")
            .arg(format!("{}groups", self.base))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .map_err(storage)?;
        let mut ids: Vec<String> = members
            .iter()
            .filter_map(|m| {
                let m = String::from_utf8_lossy(m);
                m.rsplit_once(':').map(|(_, id)| id.to_owned())
            })
            .collect();
        let dead: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(format!("{}dead", self.base))
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .map_err(storage)?;
        ids.extend(dead.into_iter().flat_map(|(_, fields)| {
            fields
                .into_iter()
                .filter(|(k, _)| k == "id")
                .map(|(_, v)| v)
        }));
        Ok(ids)
    }

    pub(super) async fn erase(&self, customer: &Customer) -> Result<(u64, u64), QueueError> {
        let mut conn = self.conn.clone();
        let jobs_key = format!("{}jobs", self.base);
        let (mut jobs, mut keys) = (0u64, 0u64);
        for id in self.job_ids().await? {
            let fields: Vec<Option<Vec<u8>>> = redis::cmd("HMGET")
                .arg(&jobs_key)
                .arg(format!("{id}:key"))
                .arg(format!("{id}:group"))
                .arg(format!("{id}:payload"))
                .arg(format!("{id}:cp"))
                .query_async(&mut conn)
                .await
                .map_err(storage)?;
            if !fields.iter().flatten().any(|f| customer.mentions(f)) {
                continue;
            }
            let n: i64 = self
                .scripts
                .erase_job
                .prepare_invoke()
                .keys_of(self)
                .arg(&id)
                .invoke_async(&mut conn)
                .await
                .map_err(storage)?;
            if n > 0 {
                jobs += 1;
                keys += 1;
            }
        }
        // Completed keys: the customer's message ids.
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("HSCAN")
                .arg(format!("{}keys", self.base))
                .arg(cursor)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(storage)?;
            // Field, value, field, value...
            let theirs: Vec<&String> = batch
                .iter()
                .step_by(2)
                .filter(|k| customer.mentions(k.as_bytes()))
                .collect();
            if !theirs.is_empty() {
                let mut forget = self.scripts.forget_keys.prepare_invoke();
                forget.keys_of(self);
                for k in &theirs {
                    forget.arg(k.as_str());
                }
                let n: i64 = forget.invoke_async(&mut conn).await.map_err(storage)?;
                keys += u64::try_from(n).unwrap_or(0);
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        Ok((jobs, keys))
    }
}
