//! The command line of Tavdun's services (the worker node, the relayer): a configuration
//! file, perhaps JSON logs, help and version. Few enough options that a service needs no
//! argument-parsing framework, and all of them parsed the same way.

use std::path::PathBuf;
use std::process::ExitCode;

/// What a service was asked to do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ServiceArgs {
    /// `--config FILE` (`-c`), or the environment variable the service names.
    pub config: Option<PathBuf>,
    /// `--json`: log as JSON lines.
    pub json: bool,
}

/// A service's name, its configuration variable and its help text.
pub struct ServiceCli {
    pub name: &'static str,
    pub version: &'static str,
    pub config_env: &'static str,
    /// Whether `--json` is an option of this service.
    pub takes_json: bool,
    pub usage: &'static str,
}

impl ServiceCli {
    /// Parses `args` (without the program name). `Err` is the exit code once help, the
    /// version or a usage error has been printed.
    pub fn parse(&self, args: impl IntoIterator<Item = String>) -> Result<ServiceArgs, ExitCode> {
        let env = std::env::var_os(self.config_env).filter(|v| !v.is_empty());
        self.parse_with(args, env.map(PathBuf::from))
            .map_err(|(text, code)| {
                if code == 0 {
                    println!("{text}");
                } else {
                    eprintln!("{text}");
                }
                ExitCode::from(code)
            })
    }

    fn parse_with(
        &self,
        args: impl IntoIterator<Item = String>,
        config_from_env: Option<PathBuf>,
    ) -> Result<ServiceArgs, (String, u8)> {
        let usage = |problem: String| Err((format!("{problem}\n\n{}", self.usage), 2));
        let mut parsed = ServiceArgs {
            config: config_from_env,
            json: false,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "-c" | "--config" => match args.next() {
                    Some(path) => parsed.config = Some(path.into()),
                    None => return usage(format!("{arg} needs a FILE")),
                },
                "--json" if self.takes_json => parsed.json = true,
                "-h" | "--help" => return Err((self.usage.to_string(), 0)),
                "-V" | "--version" => return Err((format!("{} {}", self.name, self.version), 0)),
                other => match other.strip_prefix("--config=") {
                    Some(path) => parsed.config = Some(path.into()),
                    None => return usage(format!("unknown argument `{other}`")),
                },
            }
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLI: ServiceCli = ServiceCli {
        name: "svc",
        version: "1.0.0",
        config_env: "SVC_CONFIG",
        takes_json: false,
        usage: "usage: svc [--config FILE]",
    };

    fn parse(args: &[&str], env: Option<&str>) -> Result<ServiceArgs, (String, u8)> {
        CLI.parse_with(args.iter().map(|a| a.to_string()), env.map(PathBuf::from))
    }

    #[test]
    fn config_comes_from_the_flag_over_the_environment() {
        let from_env = parse(&[], Some("env.toml")).unwrap();
        assert_eq!(from_env.config, Some(PathBuf::from("env.toml")));
        for args in [
            &["--config", "a.toml"][..],
            &["-c", "a.toml"],
            &["--config=a.toml"],
        ] {
            let parsed = parse(args, Some("env.toml")).unwrap();
            assert_eq!(parsed.config, Some(PathBuf::from("a.toml")), "{args:?}");
        }
    }

    #[test]
    fn help_version_and_mistakes_are_answered() {
        assert_eq!(parse(&["--help"], None).unwrap_err().1, 0);
        assert_eq!(
            parse(&["-V"], None).unwrap_err(),
            ("svc 1.0.0".to_string(), 0)
        );
        let (text, code) = parse(&["--config"], None).unwrap_err();
        assert!(code == 2 && text.contains("needs a FILE"), "{text}");
        let (text, code) = parse(&["--json"], None).unwrap_err();
        assert!(
            code == 2 && text.contains("`--json`"),
            "this service has no --json: {text}"
        );
        let json = ServiceCli {
            takes_json: true,
            ..CLI
        };
        assert!(json.parse_with(["--json".to_string()], None).unwrap().json);
    }
}
