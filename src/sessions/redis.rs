//! The same key-value operations as `memory`, in Redis (6.2 or later: GETEX),
//! through the `redis` crate's `ConnectionManager`, which reconnects by
//! itself. Every key is prefixed (`redis.key_prefix`) so several deployments,
//! or parallel test runs, can share one Redis.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use crate::config::RedisConfig;

/// How long one Redis command may take before this instance falls back to
/// its own memory: a chat turn must not wait on a dead network.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(1500);

#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("invalid Redis URL: {0}")]
    Url(String),
    #[error("redis: {0}")]
    Command(#[from] redis::RedisError),
}

/// A Redis connection; cheap to clone.
#[derive(Clone)]
pub struct RedisKv {
    conn: ConnectionManager,
    prefix: String,
}

/// Adds one; a new counter (or every hit, when sliding) gets the TTL.
const INCR: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 or ARGV[2] == '1' or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n";

/// Compare and set.
const CAS: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0";

/// Compare and delete.
const DEL_IF: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl RedisKv {
    /// Does not connect: the first command does, so `serve` starts while Redis is down.
    pub fn open(config: &RedisConfig) -> Result<RedisKv, RedisError> {
        let client = redis::Client::open(config.connection_url().map_err(RedisError::Url)?.as_str())?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let conn = ConnectionManager::new_lazy_with_config(client, manager)?;
        Ok(RedisKv { conn, prefix: config.key_prefix.clone() })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub async fn ping(&self) -> Result<(), RedisError> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>, RedisError> {
        Ok(self.conn.clone().get(self.key(key)).await?)
    }

    pub async fn get_touch(&self, key: &str, ttl: Duration) -> Result<Option<String>, RedisError> {
        let expiry = redis::Expiry::PX(millis(ttl));
        Ok(self.conn.clone().get_ex(self.key(key), expiry).await?)
    }

    pub async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), RedisError> {
        let _: () = self.conn.clone().pset_ex(self.key(key), value, millis(ttl)).await?;
        Ok(())
    }

    pub async fn del(&self, key: &str) -> Result<(), RedisError> {
        let _: () = self.conn.clone().del(self.key(key)).await?;
        Ok(())
    }

    pub async fn set_nx(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, RedisError> {
        let set: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(set.is_some())
    }

    pub async fn cas(&self, key: &str, expected: &str, new: &str, ttl: Duration) -> Result<bool, RedisError> {
        let done: i64 = Script::new(CAS)
            .key(self.key(key))
            .arg(expected)
            .arg(new)
            .arg(millis(ttl))
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(done == 1)
    }

    pub async fn del_if(&self, key: &str, expected: &str) -> Result<bool, RedisError> {
        let done: i64 =
            Script::new(DEL_IF).key(self.key(key)).arg(expected).invoke_async(&mut self.conn.clone()).await?;
        Ok(done == 1)
    }

    pub async fn incr(&self, key: &str, ttl: Duration, sliding: bool) -> Result<u64, RedisError> {
        let n: u64 = Script::new(INCR)
            .key(self.key(key))
            .arg(millis(ttl))
            .arg(if sliding { "1" } else { "0" })
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(n)
    }

    /// Records `member` of `set` as alive now (a sorted set scored by time;
    /// members older than `ttl` are pruned as we go).
    pub async fn mark(&self, set: &str, member: &str, ttl: Duration) -> Result<(), RedisError> {
        let now = now_ms();
        let _: () = redis::pipe()
            .atomic()
            .zadd(self.key(set), member, now)
            .ignore()
            .zrembyscore(self.key(set), "-inf", now.saturating_sub(millis(ttl)))
            .ignore()
            .pexpire(self.key(set), millis(ttl).saturating_mul(2) as i64)
            .ignore()
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    pub async fn unmark(&self, set: &str, member: &str) -> Result<(), RedisError> {
        let _: () = self.conn.clone().zrem(self.key(set), member).await?;
        Ok(())
    }

    /// Members of `set` marked within `ttl`.
    pub async fn live(&self, set: &str, ttl: Duration) -> Result<u64, RedisError> {
        let since = now_ms().saturating_sub(millis(ttl));
        Ok(self.conn.clone().zcount(self.key(set), since, "+inf").await?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::Secret;

    fn config(url: &str, password: &str, db: u32) -> RedisConfig {
        RedisConfig {
            url: Secret::new(url),
            password: Secret::new(password),
            db,
            ttl_secs: 60,
            key_prefix: "t:".into(),
        }
    }

    #[test]
    fn password_and_db_apply_on_top_of_the_url() {
        let plain = config("redis://localhost:6379", "", 0).connection_url().unwrap();
        assert_eq!(plain.as_str(), "redis://localhost:6379");
        let both = config("redis://localhost:6379", "s3cret", 2).connection_url().unwrap();
        assert_eq!(both.as_str(), "redis://:s3cret@localhost:6379/2");
        let kept = config("rediss://u:p@cache.example:6380/5", "", 0).connection_url().unwrap();
        assert_eq!(kept.as_str(), "rediss://u:p@cache.example:6380/5");
        assert!(config("http://localhost", "", 0).connection_url().is_err());
        assert!(config("not a url", "", 0).connection_url().is_err());
    }
}
