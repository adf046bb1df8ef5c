mod cli;

fn main() {
    match cli::run() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("vae-gpu: {e}");
            std::process::exit(1);
        }
    }
}
