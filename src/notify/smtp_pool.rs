//! SMTP connections for the email lane: at most `size` open at once, idle
//! ones reused. lettre's own pool hands a connection back on a spawned task
//! after each send, so the next send can briefly open one more; this pool
//! takes the connection back before the sender's turn ends, which keeps the
//! bound exact.

use std::time::{Duration, Instant};

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::Error;
use lettre::Message;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use super::DeliveryError;
use crate::config::{SmtpConfig, SmtpTls};

/// Idle connections older than this are closed rather than reused.
const MAX_IDLE: Duration = Duration::from_secs(30);

pub struct SmtpPool {
    host: String,
    port: u16,
    tls: SmtpTls,
    credentials: Option<Credentials>,
    timeout: Duration,
    hello: ClientId,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    size: usize,
}

impl SmtpPool {
    /// Callers must not send more than `size` messages at once (the email lane's bound).
    pub fn new(smtp: &SmtpConfig, timeout: Duration, size: usize) -> SmtpPool {
        SmtpPool {
            host: smtp.host.clone(),
            port: smtp.port,
            tls: smtp.tls,
            credentials: (!smtp.user.is_empty())
                .then(|| Credentials::new(smtp.user.clone(), smtp.pass.expose().to_string())),
            timeout,
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
            size,
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, DeliveryError> {
        let tls = || TlsParameters::new(self.host.clone());
        let implicit = matches!((self.tls, self.port), (SmtpTls::Implicit, _) | (SmtpTls::Auto, 465));
        let mut conn = if implicit {
            AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(self.timeout),
                &self.hello,
                Some(tls().map_err(classify)?),
                None,
            )
            .await
            .map_err(classify)?
        } else {
            // Our own socket, to turn Nagle off: without it each message waits
            // ~40 ms for a delayed ACK between the SMTP commands.
            let tcp = tokio::time::timeout(self.timeout, TcpStream::connect((self.host.as_str(), self.port)))
                .await
                .map_err(|_| DeliveryError::Transient("SMTP: connection timed out".into()))?
                .map_err(|e| DeliveryError::Transient(format!("SMTP: cannot connect: {e}")))?;
            tcp.set_nodelay(true).map_err(|e| DeliveryError::Transient(format!("SMTP: {e}")))?;
            AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await.map_err(classify)?
        };
        if matches!(self.tls, SmtpTls::Starttls | SmtpTls::Auto) && !implicit {
            // STARTTLS is required, never silently skipped: credentials must not go out in clear.
            conn.starttls(tls().map_err(classify)?, &self.hello).await.map_err(classify)?;
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials).await.map_err(classify)?;
        }
        Ok(conn)
    }

    /// An idle connection that still answers, else a new one.
    async fn checkout(&self) -> Result<AsyncSmtpConnection, DeliveryError> {
        loop {
            let next = self.idle.lock().await.pop();
            let Some((mut conn, since)) = next else { return self.connect().await };
            if since.elapsed() < MAX_IDLE && conn.test_connected().await {
                return Ok(conn);
            }
            conn.abort().await;
        }
    }

    pub async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let mut conn = self.checkout().await?;
        let result = conn.send(message.envelope(), &message.formatted()).await;
        if result.is_ok() && !conn.has_broken() {
            let mut idle = self.idle.lock().await;
            if idle.len() < self.size {
                idle.push((conn, Instant::now()));
                return Ok(());
            }
        }
        conn.abort().await;
        result.map(|_| ()).map_err(classify)
    }
}

/// A 5xx answer is the server's final word; anything else (connection
/// refused, timeout, 4xx) may pass later.
fn classify(e: Error) -> DeliveryError {
    if e.is_permanent() {
        DeliveryError::Permanent(format!("SMTP server refused: {e}"))
    } else {
        DeliveryError::Transient(format!("SMTP: {e}"))
    }
}
