//! `frontdesk user add|passwd`

use anyhow::Context;

use crate::config::Config;
use crate::domain::Role;
use crate::ids::BusinessId;
use crate::store::NewUser;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Add a user who can sign in to the web UI
    Add {
        #[arg(long)]
        email: String,
        /// Business id (required for owner and staff; operators see every business)
        #[arg(long)]
        business: Option<String>,
        /// owner, staff or operator
        #[arg(long, default_value = "owner")]
        role: String,
        /// Read the password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password
    Passwd {
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
    },
}

/// Checks a user's fields before anything is asked or written.
pub fn validate(email: &str, role: &str, business: Option<&str>) -> anyhow::Result<Role> {
    if !email_address::EmailAddress::is_valid(email.trim()) {
        anyhow::bail!("--email: not an email address: '{email}'");
    }
    let role =
        Role::parse(role).with_context(|| format!("--role: expected {}, got '{role}'", Role::choices()))?;
    match (role, business) {
        (Role::Operator, Some(_)) => anyhow::bail!("--business: operators manage every business; omit it"),
        (Role::Owner | Role::Staff, None) => anyhow::bail!("--business: required for role {role}"),
        _ => Ok(role),
    }
}

pub async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Add { email, business, role, password_stdin } => {
            let role = validate(&email, &role, business.as_deref())?;
            let store = super::open_store(&config).await?;
            if let Some(id) = &business {
                store
                    .business(&BusinessId::from(id.as_str()))
                    .await
                    .with_context(|| format!("--business {id}"))?;
            }
            let password = super::read_password(password_stdin, &[&email])?;
            let user = store
                .create_user(NewUser {
                    email: email.trim().to_string(),
                    password_hash: crate::auth::hash_password_for(&password, &[&email])?,
                    role,
                    business_id: business.map(BusinessId::from),
                })
                .await?;
            println!("{}", user.id);
            eprintln!("added {} ({})", user.email, user.role);
            Ok(())
        }
        Command::Passwd { email, password_stdin } => {
            let store = super::open_store(&config).await?;
            store.user_by_email(&email).await.with_context(|| format!("--email {email}"))?;
            let password = super::read_password(password_stdin, &[&email])?;
            store.set_password_hash(&email, &crate::auth::hash_password_for(&password, &[&email])?).await?;
            eprintln!("password changed for {email}");
            Ok(())
        }
    }
}
