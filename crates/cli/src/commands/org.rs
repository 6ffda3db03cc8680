//! `sanalpos company create|list`, `sanalpos user create|set-password`: the first steps
//! on an empty database, before anyone can sign in to the back office, and the way back
//! in for a user who forgot their password or locked themselves out.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use clap::Subcommand;
use rand::distr::{Alphanumeric, SampleString};
use zeroize::Zeroizing;

use sanalpos_service::{PaymentService, Role, ServiceError};

use super::admin::{block_on, open_service, DatabaseArgs, CLI_ACTOR};

/// Length of a generated password (letters and digits: about 119 bits).
const GENERATED_PASSWORD_LEN: usize = 20;

/// `sanalpos company ...`.
#[derive(Debug, Subcommand)]
pub enum CompanyCommand {
    /// Create a company; its id is printed on stdout.
    Create {
        /// The company's trade name, as staff see it.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Every company: id, then name, one per line.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// `sanalpos user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a back-office user. The password is read from stdin with
    /// --password-stdin, asked twice when stdin is a terminal, and otherwise generated
    /// and printed once.
    Create {
        /// The company the user works for (repeat for several).
        #[arg(long = "company", required = true)]
        companies: Vec<String>,
        /// The sign-in name (letters, digits, . _ - @; an e-mail address works).
        #[arg(long, visible_alias = "email")]
        username: String,
        /// admin (everything), accountant, collector or viewer.
        #[arg(long, value_parser = ["admin", "accountant", "collector", "viewer"])]
        role: String,
        /// Read the password from stdin (one line; at least 10 characters).
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Give a user a new password: their back-office sessions end and a lockout from
    /// wrong passwords is lifted. The password is read as for `create`.
    SetPassword {
        /// The user's sign-in name.
        #[arg(long, visible_alias = "email")]
        username: String,
        /// Read the password from stdin (one line; at least 10 characters).
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Runs `sanalpos company ...`.
pub fn company(command: CompanyCommand) -> ExitCode {
    block_on(async move {
        match command {
            CompanyCommand::Create { name, database } => {
                let service = match open_service(&database).await {
                    Ok(service) => service,
                    Err(e) => return fail(&e),
                };
                match service.create_company(&name, CLI_ACTOR).await {
                    Ok(company) => {
                        println!("{}", company.id);
                        eprintln!("company {:?} created with id {}", company.name, company.id);
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(&explain(&e)),
                }
            }
            CompanyCommand::List { database } => {
                let service = match open_service(&database).await {
                    Ok(service) => service,
                    Err(e) => return fail(&e),
                };
                match service.list_companies().await {
                    Ok(companies) => {
                        for company in companies {
                            println!("{}\t{}", company.id, company.name);
                        }
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(&explain(&e)),
                }
            }
        }
    })
}

/// Runs `sanalpos user ...`.
pub fn user(command: UserCommand) -> ExitCode {
    match command {
        UserCommand::Create {
            companies,
            username,
            role,
            password_stdin,
            database,
        } => create_user(companies, username, role, password_stdin, database),
        UserCommand::SetPassword {
            username,
            password_stdin,
            database,
        } => set_password(username, password_stdin, database),
    }
}

fn set_password(username: String, password_stdin: bool, database: DatabaseArgs) -> ExitCode {
    block_on(async move {
        let service = match open_service(&database).await {
            Ok(service) => service,
            Err(e) => return fail(&e),
        };
        let (password, generated) = match password(password_stdin) {
            Ok(found) => found,
            Err(e) => return fail(&e),
        };
        match service
            .set_user_password(&username, &password, CLI_ACTOR)
            .await
        {
            Ok(user) => {
                eprintln!(
                    "new password set for {:?} ({}); their sessions ended",
                    user.username, user.id
                );
                if generated {
                    println!("password: {}", password.as_str());
                    eprintln!("the password above is shown only this once: hand it over safely");
                }
                ExitCode::SUCCESS
            }
            Err(ServiceError::NotFound) => fail(&format!(
                "no active user named {:?}; nothing was changed",
                username.trim()
            )),
            Err(e) => fail(&explain(&e)),
        }
    })
}

fn create_user(
    companies: Vec<String>,
    username: String,
    role: String,
    password_stdin: bool,
    database: DatabaseArgs,
) -> ExitCode {
    let Some(role) = Role::parse(&role) else {
        return fail(&format!("unknown role {role:?}"));
    };
    block_on(async move {
        let service = match open_service(&database).await {
            Ok(service) => service,
            Err(e) => return fail(&e),
        };
        // Check what can be checked before asking for a password.
        if let Err(e) = known_companies(&service, &companies).await {
            return fail(&e);
        }
        let (password, generated) = match password(password_stdin) {
            Ok(found) => found,
            Err(e) => return fail(&e),
        };
        match service
            .create_user(&username, &password, role, &companies, CLI_ACTOR)
            .await
        {
            Ok(user) => {
                println!("{}", user.id);
                eprintln!(
                    "user {:?} ({}) created with id {} for {}",
                    user.username,
                    user.role,
                    user.id,
                    user.company_ids.join(", ")
                );
                if generated {
                    println!("password: {}", password.as_str());
                    eprintln!("the password above is shown only this once: hand it over safely");
                }
                ExitCode::SUCCESS
            }
            Err(ServiceError::Conflict {
                code: "username_taken",
                ..
            }) => fail(&format!(
                "a user named {:?} already exists; nothing was changed",
                username.trim()
            )),
            Err(e) => fail(&explain(&e)),
        }
    })
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

/// A service error as one line for the operator.
fn explain(e: &ServiceError) -> String {
    match e {
        ServiceError::Validation { field, message } => format!("{field}: {message}"),
        ServiceError::Storage(detail) => detail.clone(),
        other => other.message(),
    }
}

/// Every id names a company, or the error names the first that does not.
pub(crate) async fn known_companies(
    service: &PaymentService,
    ids: &[String],
) -> Result<(), String> {
    let existing = service.list_companies().await.map_err(|e| explain(&e))?;
    for id in ids {
        if !existing.iter().any(|c| &c.id == id) {
            return Err(format!(
                "no company with id {id} (sanalpos company list shows them); nothing was changed"
            ));
        }
    }
    Ok(())
}

/// The new user's password and whether it was generated here.
fn password(from_stdin: bool) -> Result<(Zeroizing<String>, bool), String> {
    if from_stdin {
        let mut text = Zeroizing::new(String::new());
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        let line = text.lines().next().unwrap_or_default();
        if line.is_empty() {
            return Err("--password-stdin: stdin held no password".into());
        }
        return Ok((Zeroizing::new(line.to_owned()), false));
    }
    if std::io::stdin().is_terminal() {
        let first = Zeroizing::new(
            rpassword::prompt_password("Password (at least 10 characters): ")
                .map_err(|e| format!("cannot read the password: {e}"))?,
        );
        let second = Zeroizing::new(
            rpassword::prompt_password("Password again: ")
                .map_err(|e| format!("cannot read the password: {e}"))?,
        );
        if *first != *second {
            return Err("the two passwords differ; nothing was changed".into());
        }
        return Ok((first, false));
    }
    let generated = Alphanumeric.sample_string(&mut rand::rng(), GENERATED_PASSWORD_LEN);
    Ok((Zeroizing::new(generated), true))
}
