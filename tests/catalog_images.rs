//! odo's builder catalogue (`src/catalog`) against the simulator's image catalogue
//! (`fixtures/images/`): the labels odo reads, the ports it exposes and the working directory
//! must be those of the image the simulated kubelet runs, or odo would configure a component
//! for an image that behaves differently.

use odo::catalog::BUILDERS;
use odo_sim::runtime::image::Catalogue;

#[test]
fn every_builder_matches_the_image_the_simulator_runs() {
    let images = Catalogue::builtin().expect("the simulator's image catalogue loads");
    for b in BUILDERS {
        let image = images.get(b.image).unwrap_or_else(|| {
            panic!(
                "{} ({}) is not in the simulator's catalogue",
                b.name, b.image
            )
        });
        let config = &image.config;
        for (key, want) in b.labels {
            assert_eq!(
                config.labels.get(*key).map(String::as_str),
                Some(*want),
                "{}: label {key}",
                b.name
            );
        }
        let ports: Vec<String> = b
            .ports
            .iter()
            .map(|(p, proto)| format!("{p}/{}", proto.as_str().to_lowercase()))
            .collect();
        assert_eq!(ports, config.ports, "{}: exposed ports", b.name);
        assert_eq!(
            config.workdir.as_deref(),
            Some(b.working_dir),
            "{}: working directory",
            b.name
        );
    }
}
