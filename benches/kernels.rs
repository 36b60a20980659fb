//! criterion benches for the per-frame pure kernels: letterbox
//! preprocessing of a 1280x720 frame and class-aware NMS on a dense scene.

use criterion::{criterion_group, criterion_main, Criterion};
use lookout::detect::family::Family;
use lookout::detect::nms::nms_class_aware;
use lookout::detect::Detection;
use lookout::geom::BBox;

fn preprocess(c: &mut Criterion) {
    let frame = image::RgbImage::from_fn(1280, 720, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
    });
    for family in [Family::Yolov8, Family::Yolox] {
        let spec = family.default_preprocess(640, 640);
        c.bench_function(&format!("letterbox_720p_to_640_{family:?}"), |b| {
            b.iter(|| spec.run(std::hint::black_box(&frame)))
        });
    }
}

fn nms(c: &mut Criterion) {
    // 2000 candidates in clusters, as a crowded harbour gives before NMS.
    let mut state = 12345u64;
    let mut rnd = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as f32 / (1u64 << 31) as f32
    };
    let dets: Vec<Detection> = (0..2000)
        .map(|i| {
            let (cx, cy) = ((i % 100) as f32 * 12.0, (i / 100) as f32 * 30.0);
            let (dx, dy) = (rnd() * 4.0, rnd() * 4.0);
            Detection {
                class_id: i % 4,
                score: rnd(),
                bbox: BBox::new(cx + dx, cy + dy, cx + dx + 10.0, cy + dy + 12.0),
            }
        })
        .collect();
    c.bench_function("nms_class_aware_2000", |b| {
        b.iter(|| nms_class_aware(std::hint::black_box(dets.clone()), 0.5, 300))
    });
}

criterion_group!(benches, preprocess, nms);
criterion_main!(benches);
