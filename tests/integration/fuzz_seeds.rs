//! The fuzz targets' properties (fuzz/targets.rs), checked on stable over the seed corpus kept
//! in fuzz/corpus and a bounded number of mutations of it: bit flips, truncations, duplicated
//! and spliced ranges, interesting bytes. `cargo +nightly fuzz run TARGET` explores further.

#[path = "../../fuzz/targets.rs"]
mod targets;

/// Mutations per seed: enough to reach every parser branch the seeds lead to, in seconds.
const MUTATIONS: usize = 3000;

struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"\"",
    b"\\",
    b":",
    b"@",
    b"/",
    b",",
    b"=",
    b" ",
    b"{",
    b"}",
    b"[",
    b"]",
    b"null",
    b"-1",
    b"\xff",
    b"\xc3\xa9",
    b"sha256:",
    b"sha512:",
    b"1e400",
    b"\0",
];

fn mutate(seed: &[u8], others: &[Vec<u8>], dice: &mut Dice) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + dice.below(4) {
        let len = data.len();
        match dice.below(6) {
            0 if len > 0 => {
                let i = dice.below(len);
                data[i] ^= 1 << dice.below(8);
            }
            1 => data.truncate(dice.below(len + 1)),
            2 if len > 0 => {
                let (a, b) = (dice.below(len), dice.below(len));
                let (a, b) = (a.min(b), a.max(b));
                let piece = data[a..b].to_vec();
                let at = dice.below(data.len() + 1);
                data.splice(at..at, piece);
            }
            3 => {
                let piece = INTERESTING[dice.below(INTERESTING.len())];
                let at = dice.below(len + 1);
                data.splice(at..at, piece.iter().copied());
            }
            4 if !others.is_empty() => {
                let other = &others[dice.below(others.len())];
                let cut = dice.below(other.len() + 1);
                let at = dice.below(len + 1);
                data.truncate(at);
                data.extend_from_slice(&other[cut..]);
            }
            _ if len > 0 => {
                let i = dice.below(len);
                data.remove(i);
            }
            _ => {}
        }
    }
    data
}

fn run(target: &str, check: fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    let mut dice = Dice(target.len() as u64);
    for seed in &seeds {
        check(seed);
        for _ in 0..MUTATIONS {
            let input = mutate(seed, &seeds, &mut dice);
            let caught = std::panic::catch_unwind(|| check(&input));
            assert!(
                caught.is_ok(),
                "{target} panicked on {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}

#[test]
fn reference_parser_survives_mutated_seeds() {
    run("reference", targets::reference);
}

#[test]
fn www_authenticate_parser_survives_mutated_seeds() {
    run("www_authenticate", targets::www_authenticate);
}

#[test]
fn manifest_parser_survives_mutated_seeds() {
    run("manifest", targets::manifest);
}

#[test]
fn layout_index_reader_survives_mutated_seeds() {
    run("layout_index", targets::layout_index);
}

#[test]
fn layout_paths_stay_inside_their_root_for_mutated_seeds() {
    run("layout_path", targets::layout_path);
}

#[test]
fn archive_entry_checks_survive_mutated_seeds() {
    run("archive_entries", targets::archive_entries);
}
