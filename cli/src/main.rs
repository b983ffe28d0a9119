fn main() {
    eprintln!("slipway: no command is implemented yet");
    std::process::exit(2);
}
