//! Debian's Pebble (Let's Encrypt's ACME test server) on free loopback
//! ports, with `pebble-challtestsrv` as its DNS so test domains resolve to
//! 127.0.0.1. Pebble validates for real: HTTP-01 on `http_port` and
//! TLS-ALPN-01 on `tls_port` of the domain, which the tests point at the
//! server's own ports. Skipped with a notice when Pebble is not installed,
//! unless FRONTDESK_REQUIRE_PEBBLE=1 (CI), where it is a failure.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::net::free_port;

/// True when Pebble can run here; prints why not otherwise.
pub fn available() -> bool {
    let found = ["pebble", "pebble-challtestsrv"].iter().all(|bin| {
        Command::new("sh")
            .args(["-c", &format!("command -v {bin}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if !found {
        assert!(
            std::env::var("FRONTDESK_REQUIRE_PEBBLE").is_err(),
            "FRONTDESK_REQUIRE_PEBBLE is set but pebble is not installed (apt-get install pebble)"
        );
        eprintln!("SKIPPED: pebble is not installed (apt-get install pebble); the ACME tests did not run");
    }
    found
}

pub struct Options {
    /// Where Pebble checks HTTP-01 answers (the server's HTTP port).
    pub http_port: u16,
    /// Where Pebble checks TLS-ALPN-01 answers (the server's HTTPS port).
    pub tls_port: u16,
    /// Lifetime of issued certificates (Pebble's default is 5 years).
    pub validity_secs: Option<u64>,
    /// The directory's port (chosen when None).
    pub port: Option<u16>,
}

/// Pebble's own HTTPS certificate, made before Pebble runs so a server can
/// be configured to trust it (`tls.acme_ca_bundle`) even while it is down.
pub struct Files {
    pub dir: tempfile::TempDir,
}

impl Files {
    pub fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        params.is_ca = rcgen::IsCa::NoCa;
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        Files { dir }
    }

    /// Trust this for the directory (`tls.acme_ca_bundle`).
    pub fn ca_bundle(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }
}

pub struct Pebble {
    pebble: Child,
    dns: Child,
    files: Option<Files>,
    pub directory: String,
    management: String,
}

impl Pebble {
    pub fn start(options: Options) -> Pebble {
        Pebble::start_with(Files::new(), options)
    }

    pub fn start_with(files: Files, options: Options) -> Pebble {
        let (dns_port, dns_management) = (free_port(), free_port());
        let dns = Command::new("pebble-challtestsrv")
            .args([
                "-dns01",
                &format!("127.0.0.1:{dns_port}"),
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
            ])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{dns_management}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (port, management) = (options.port.unwrap_or_else(free_port), free_port());
        let mut config = serde_json::json!({ "pebble": {
            "listenAddress": format!("127.0.0.1:{port}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": files.dir.path().join("cert.pem"),
            "privateKey": files.dir.path().join("key.pem"),
            "httpPort": options.http_port,
            "tlsPort": options.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        if let Some(secs) = options.validity_secs {
            config["pebble"]["certificateValidityPeriod"] = secs.into();
        }
        let config_path = files.dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let log = std::fs::File::create(files.dir.path().join("pebble.log")).unwrap();
        let pebble = Command::new("pebble")
            .args(["-config", config_path.to_str().unwrap(), "-dnsserver", &format!("127.0.0.1:{dns_port}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let pebble = Pebble {
            pebble,
            dns,
            files: Some(files),
            directory: format!("https://127.0.0.1:{port}/dir"),
            management: format!("https://127.0.0.1:{management}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpListenerProbe::closed(port)
            || TcpListenerProbe::closed(management)
            || TcpListenerProbe::closed(dns_port)
        {
            assert!(Instant::now() < deadline, "pebble did not start: {}", pebble.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        pebble
    }

    pub fn files(&self) -> &Files {
        self.files.as_ref().unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.files().dir.path().join("pebble.log")).unwrap_or_default()
    }

    /// Stops the CA; its certificate files stay (a server may still name them).
    pub fn stop(mut self) -> Files {
        self.kill();
        self.files.take().unwrap()
    }

    fn kill(&mut self) {
        let _ = self.pebble.kill();
        let _ = self.pebble.wait();
        let _ = self.dns.kill();
        let _ = self.dns.wait();
    }

    /// The root that signs the certificates Pebble issues (new on every start), as PEM.
    pub async fn root_pem(&self) -> String {
        let own = reqwest::Certificate::from_pem(&std::fs::read(self.files().ca_bundle()).unwrap()).unwrap();
        let client = reqwest::Client::builder().add_root_certificate(own).build().unwrap();
        client.get(format!("{}/roots/0", self.management)).send().await.unwrap().text().await.unwrap()
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        self.kill();
    }
}

struct TcpListenerProbe;

impl TcpListenerProbe {
    fn closed(port: u16) -> bool {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
    }
}
