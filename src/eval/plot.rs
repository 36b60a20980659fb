//! Precision–recall charts, one curve per class, as PNG and SVG.
//!
//! [`pr_chart`] draws every [`Curve`] on one 800x600 chart (recall on x,
//! precision on y, both 0 to 1) with a title and a legend, and writes a PNG
//! and an SVG; [`pr_chart_svg`] returns the SVG as a string for a
//! self-contained HTML report. Both are drawn by the same code with
//! `plotters`, so they show the same chart.
//!
//! # Text without fonts
//!
//! Neither file needs a font at build time or at run time:
//!
//! - The SVG carries its text as plain `<text>` elements
//!   (`font-family="sans-serif"`); whatever shows the SVG renders them.
//! - The PNG's text is drawn by [`Font8x8Backend`], a thin wrapper around
//!   plotters' `BitMapBackend` that draws text with the 8x8 bitmap glyphs
//!   of the `font8x8` crate (already used for the evidence annotations),
//!   scaled with a box filter so it stays smooth at any size. Its
//!   `estimate_text_size` reports the same metrics, so plotters lays out
//!   tick labels, axis names, title and legend to fit the glyphs it draws.
//!
//! plotters' own text rendering was the alternative: its default `ttf`
//! feature looks fonts up through font-kit and fontconfig (a system
//! dependency, and no text where the machine has no fonts); its `ab_glyph`
//! feature needs a font file embedded in the binary, which would mean
//! keeping a ~750 KB TTF and its licence in the repository and registering it
//! in a process-wide table before every draw. The wrapper needs neither,
//! nor any plotters font feature: the crate is built with
//! `default-features = false` and only `bitmap_backend`, `svg_backend` and
//! `line_series`. The PNG text is blocky and covers ASCII, Latin-1 and
//! Greek (anything else draws as `?`); the PNG is the quick-look artefact,
//! and the SVG, with real fonts, is what the report embeds.
//!
//! # Curves and colours
//!
//! Points whose precision or recall is negative (COCO's `-1`, "undefined")
//! or not finite are skipped, and the curve is broken there rather than
//! joined across the gap; a lone defined point is drawn as a dot. Colours
//! are the Okabe–Ito palette without its yellow, which is too faint on
//! white: seven colours, drawn solid for the first seven curves and dashed
//! for the next seven, so up to fourteen classes stay distinct. The legend
//! sits in its own column right of the plot, so it never covers a curve;
//! with more classes than fit at full size its rows shrink, and labels too
//! long for the column are shortened with `..`.

use std::path::{Path, PathBuf};

use font8x8::UnicodeFonts;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

/// One precision–recall curve: `recall[i]` and `precision[i]` are one point.
/// Points with a negative (e.g. `-1`, "undefined") or non-finite value are
/// skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub label: String,
    pub recall: Vec<f64>,
    pub precision: Vec<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("curve {label:?} has {recall} recall values but {precision} precision values")]
    Mismatch {
        label: String,
        recall: usize,
        precision: usize,
    },
    #[error("cannot draw chart: {0}")]
    Draw(String),
    #[error("cannot encode PNG: {0}")]
    Encode(#[from] image::ImageError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Chart size in pixels.
pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 600;

/// Width of the legend column right of the plot.
const LEGEND_WIDTH: u32 = 220;

/// Okabe–Ito, without yellow (too faint on white), darkest first.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 0, 0),       // black
];

const FONT: &str = "sans-serif";
const STROKE: u32 = 2;
const DASH: u32 = 8;
const GAP: u32 = 5;

/// Colour of curve `index`, and whether it is dashed.
fn curve_style(index: usize) -> (RGBColor, bool) {
    (
        PALETTE[index % PALETTE.len()],
        (index / PALETTE.len()) % 2 == 1,
    )
}

/// Draws every curve on one chart (recall on x 0..1, precision on y 0..1,
/// legend with labels, title), writing both files.
pub fn pr_chart(title: &str, curves: &[Curve], png: &Path, svg: &Path) -> Result<(), PlotError> {
    let png_bytes = pr_chart_png(title, curves)?;
    let svg_text = pr_chart_svg(title, curves)?;
    write(png, &png_bytes)?;
    write(svg, svg_text.as_bytes())
}

/// The SVG as a string, for embedding into a self-contained HTML report.
pub fn pr_chart_svg(title: &str, curves: &[Curve]) -> Result<String, PlotError> {
    check(curves)?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        draw_chart(&root, title, curves)?;
        root.present().map_err(draw_error)?;
    }
    Ok(out)
}

/// The chart as PNG file contents.
pub fn pr_chart_png(title: &str, curves: &[Curve]) -> Result<Vec<u8>, PlotError> {
    use image::ImageEncoder;

    check(curves)?;
    let mut pixels = vec![255u8; WIDTH as usize * HEIGHT as usize * 3];
    {
        let backend = Font8x8Backend {
            inner: BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)),
        };
        let root = backend.into_drawing_area();
        draw_chart(&root, title, curves)?;
        root.present().map_err(draw_error)?;
    }
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png).write_image(
        &pixels,
        WIDTH,
        HEIGHT,
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(png)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    std::fs::write(path, bytes).map_err(|source| PlotError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn check(curves: &[Curve]) -> Result<(), PlotError> {
    for c in curves {
        if c.recall.len() != c.precision.len() {
            return Err(PlotError::Mismatch {
                label: c.label.clone(),
                recall: c.recall.len(),
                precision: c.precision.len(),
            });
        }
    }
    Ok(())
}

fn draw_error(e: impl std::fmt::Display) -> PlotError {
    PlotError::Draw(e.to_string())
}

fn line_style(colour: RGBColor) -> ShapeStyle {
    // `Color::`, not the `BackendStyle` method of the same name.
    Color::stroke_width(&colour, STROKE)
}

/// The curve's defined points, split into runs at undefined ones.
fn segments(curve: &Curve) -> Vec<Vec<(f64, f64)>> {
    let mut runs = vec![];
    let mut run = vec![];
    for (&r, &p) in curve.recall.iter().zip(&curve.precision) {
        if r.is_finite() && p.is_finite() && r >= 0.0 && p >= 0.0 {
            run.push((r.min(1.0), p.min(1.0)));
        } else if !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

/// `text`, shortened with `..` until it is at most `width` pixels wide in
/// `style`.
fn fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    width: u32,
) -> Result<String, PlotError> {
    let fits = |s: &str| -> Result<bool, PlotError> {
        Ok(area.estimate_text_size(s, style).map_err(draw_error)?.0 <= width)
    };
    if fits(text)? {
        return Ok(text.to_string());
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let short = format!("{}..", chars.iter().collect::<String>().trim_end());
        if fits(&short)? {
            return Ok(short);
        }
    }
    Ok(String::new())
}

fn draw_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    curves: &[Curve],
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(draw_error)?;
    let title_style = TextStyle::from((FONT, 22).into_font()).color(&BLACK);
    let title = fit(root, title, &title_style, WIDTH - 20)?;
    let body = root.titled(&title, title_style).map_err(draw_error)?;
    let (plot, legend) = body.split_horizontally(WIDTH - LEGEND_WIDTH);

    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(58)
        .build_cartesian_2d(-0.01f64..1.01f64, -0.01f64..1.01f64)
        .map_err(draw_error)?;
    let tick = |v: &f64| format!("{:.1}", (v * 10.0).round() / 10.0 + 0.0);
    chart
        .configure_mesh()
        .x_desc("Recall")
        .y_desc("Precision")
        .x_labels(11)
        .y_labels(11)
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 17))
        .bold_line_style(RGBColor(220, 220, 220))
        .light_line_style(RGBColor(242, 242, 242))
        .max_light_lines(1)
        .draw()
        .map_err(draw_error)?;

    let mut defined = vec![false; curves.len()];
    for (i, curve) in curves.iter().enumerate() {
        let (colour, dashed) = curve_style(i);
        let style = line_style(colour);
        for run in segments(curve) {
            defined[i] = true;
            if run.len() == 1 {
                chart
                    .draw_series(std::iter::once(Circle::new(run[0], 3, colour.filled())))
                    .map_err(draw_error)?;
            } else if dashed {
                chart
                    .draw_series(DashedLineSeries::new(run, DASH, GAP, style))
                    .map_err(draw_error)?;
            } else {
                chart
                    .draw_series(LineSeries::new(run, style))
                    .map_err(draw_error)?;
            }
        }
    }

    if curves.is_empty() {
        let area = chart.plotting_area().strip_coord_spec();
        let (w, h) = area.dim_in_pixel();
        area.draw_text(
            "no curves",
            &TextStyle::from((FONT, 18).into_font())
                .color(&RGBColor(110, 110, 110))
                .pos(Pos::new(HPos::Center, VPos::Center)),
            (w as i32 / 2, h as i32 / 2),
        )
        .map_err(draw_error)?;
    }
    draw_legend(&legend, curves, &defined)
}

/// One row per curve: a sample of its line and its label.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    curves: &[Curve],
    defined: &[bool],
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    if curves.is_empty() {
        return Ok(());
    }
    let (width, height) = area.dim_in_pixel();
    let (top, left, sample) = (14i32, 4i32, 30i32);
    let available = (height as i32 - top - 56).max(8);
    let row = (available / curves.len() as i32).clamp(8, 26);
    let size = f64::from((row - 6).clamp(8, 16));
    let text_x = left + sample + 8;
    let text_width = (width as i32 - text_x - 6).max(0) as u32;
    let style = TextStyle::from((FONT, size).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (i, curve) in curves.iter().enumerate() {
        let y = top + i as i32 * row + row / 2;
        if y > height as i32 {
            break;
        }
        let (colour, dashed) = curve_style(i);
        let line = line_style(colour);
        if dashed {
            let mut x = left;
            while x < left + sample {
                let end = (x + DASH as i32).min(left + sample);
                area.draw(&PathElement::new(vec![(x, y), (end, y)], line))
                    .map_err(draw_error)?;
                x = end + GAP as i32;
            }
        } else {
            area.draw(&PathElement::new(vec![(left, y), (left + sample, y)], line))
                .map_err(draw_error)?;
        }
        let label = if defined[i] {
            curve.label.clone()
        } else {
            format!("{} (no data)", curve.label)
        };
        let label = fit(area, &label, &style, text_width)?;
        area.draw_text(&label, &style, (text_x, y))
            .map_err(draw_error)?;
    }
    Ok(())
}

/// `BitMapBackend` with text drawn from `font8x8`'s bitmap glyphs instead of
/// a font file (see the module docs). A glyph cell is `0.8 * size` pixels
/// high and `0.75` of that wide; each glyph bit is a box, anti-aliased by
/// its coverage of each pixel.
pub struct Font8x8Backend<'a> {
    pub inner: BitMapBackend<'a>,
}

/// Glyph cell height and width in pixels for a text of plotters size `size`.
fn cell(size: f64) -> (f64, f64) {
    let h = (size * 0.8).max(4.0);
    (h, h * 0.75)
}

fn glyph(ch: char) -> [u8; 8] {
    font8x8::BASIC_FONTS
        .get(ch)
        .or_else(|| font8x8::LATIN_FONTS.get(ch))
        .or_else(|| font8x8::GREEK_FONTS.get(ch))
        .or_else(|| font8x8::BASIC_FONTS.get('?'))
        .unwrap_or([0; 8])
}

/// Coverage (0..=1) of each pixel of `text` in a `w` x `h` box, row-major.
fn rasterize(text: &str, cell_h: f64, cell_w: f64) -> (usize, usize, Vec<f32>) {
    let n = text.chars().count();
    let w = (n as f64 * cell_w).ceil() as usize;
    let h = cell_h.ceil() as usize;
    let mut cover = vec![0f32; w * h];
    let (bw, bh) = (cell_w / 8.0, cell_h / 8.0);
    for (i, ch) in text.chars().enumerate() {
        for (r, bits) in glyph(ch).iter().enumerate() {
            for c in 0..8 {
                if bits & (1 << c) == 0 {
                    continue;
                }
                let (x0, y0) = (i as f64 * cell_w + c as f64 * bw, r as f64 * bh);
                let (x1, y1) = (x0 + bw, y0 + bh);
                for py in y0.floor() as usize..(y1.ceil() as usize).min(h) {
                    let oy = (y1.min(py as f64 + 1.0) - y0.max(py as f64)).max(0.0);
                    for px in x0.floor() as usize..(x1.ceil() as usize).min(w) {
                        let ox = (x1.min(px as f64 + 1.0) - x0.max(px as f64)).max(0.0);
                        cover[py * w + px] += (ox * oy) as f32;
                    }
                }
            }
        }
    }
    (w, h, cover)
}

impl DrawingBackend for Font8x8Backend<'_> {
    type ErrorType = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        let (h, w) = cell(style.size());
        let n = text.chars().count() as f64;
        Ok(((n * w).ceil() as u32, h.ceil() as u32))
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let colour = style.color();
        if colour.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let (cell_h, cell_w) = cell(style.size());
        let (w, h, cover) = rasterize(text, cell_h, cell_w);
        let (w, h) = (w as i32, h as i32);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -w,
            HPos::Center => -w / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -h / 2,
            VPos::Bottom => -h,
        };
        let transform = style.transform();
        for y in 0..h {
            for x in 0..w {
                let c = cover[(y * w + x) as usize].min(1.0);
                if c <= 0.0 {
                    continue;
                }
                let (tx, ty) = transform.transform(x + dx, y + dy);
                self.inner.draw_pixel(
                    (pos.0 + tx, pos.1 + ty),
                    BackendColor {
                        alpha: colour.alpha * f64::from(c),
                        rgb: colour.rgb,
                    },
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(label: &str, ap: f64) -> Curve {
        let recall: Vec<f64> = (0..=100).map(|i| f64::from(i) / 100.0).collect();
        let precision = recall
            .iter()
            .map(|&r| if r <= ap { 1.0 - 0.5 * r * r } else { -1.0 })
            .collect();
        Curve {
            label: label.to_string(),
            recall,
            precision,
        }
    }

    /// Checks that every start tag has its end tag, in order.
    fn assert_balanced(svg: &str) {
        assert!(svg.trim_start().starts_with("<svg"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
        let mut stack: Vec<String> = vec![];
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').expect("unclosed tag") + start;
            let tag = &rest[start + 1..end];
            rest = &rest[end + 1..];
            assert!(!rest[..rest.find('<').unwrap_or(rest.len())].contains('>'));
            if tag.starts_with('?') || tag.starts_with('!') || tag.ends_with('/') {
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name.trim()), "{svg}");
            } else {
                let name = tag.split_whitespace().next().expect("tag name");
                stack.push(name.to_string());
            }
        }
        assert!(stack.is_empty(), "unclosed {stack:?}");
    }

    /// The contents of the SVG's `<text>` elements.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .map(|t| {
                let body = &t[t.find('>').unwrap() + 1..];
                body[..body.find("</text>").unwrap()].trim().to_string()
            })
            .collect()
    }

    fn non_white(img: &image::RgbImage, rows: std::ops::Range<u32>) -> usize {
        img.enumerate_pixels()
            .filter(|(_, y, p)| rows.contains(y) && p.0 != [255, 255, 255])
            .count()
    }

    fn write_both(title: &str, curves: &[Curve]) -> (tempfile::TempDir, image::RgbImage, String) {
        let dir = tempfile::tempdir().unwrap();
        let (png, svg) = (dir.path().join("pr.png"), dir.path().join("pr.svg"));
        pr_chart(title, curves, &png, &svg).unwrap();
        let img = image::open(&png).unwrap().into_rgb8();
        let text = std::fs::read_to_string(&svg).unwrap();
        (dir, img, text)
    }

    #[test]
    fn png_has_expected_size_and_is_drawn() {
        let curves = [curve("person", 0.9), curve("boat", 0.6)];
        let (_dir, img, _) = write_both("PR curves", &curves);
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        assert!(non_white(&img, 0..HEIGHT) > 5_000);
        // The title band has text in it.
        assert!(non_white(&img, 0..30) > 100);
        // Both curves' colours are there.
        for (colour, _) in [curve_style(0), curve_style(1)] {
            let n = img
                .pixels()
                .filter(|p| p.0 == [colour.0, colour.1, colour.2])
                .count();
            assert!(n > 200, "{colour:?}: {n}");
        }
    }

    #[test]
    fn svg_is_well_formed_with_title_and_labels() {
        let curves = [curve("person", 0.9), curve("people-in-container", 0.4)];
        let (_dir, _, svg) = write_both("PR <val> & test", &curves);
        assert_balanced(&svg);
        assert!(svg.contains("PR &lt;val&gt; &amp; test"));
        let texts = texts(&svg);
        for label in ["person", "people-in-container", "Recall", "Precision"] {
            assert!(texts.iter().any(|t| t == label), "{label}: {texts:?}");
        }
        // The file and the string for the report are the same chart.
        assert_eq!(svg, pr_chart_svg("PR <val> & test", &curves).unwrap());
    }

    #[test]
    fn no_curves_still_writes_valid_files() {
        let (_dir, img, svg) = write_both("empty", &[]);
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        assert!(non_white(&img, 0..HEIGHT) > 1_000);
        assert_balanced(&svg);
        assert!(svg.contains("no curves"));
    }

    #[test]
    fn all_undefined_curve_still_writes_valid_files() {
        let undefined = Curve {
            label: "vehicle".into(),
            recall: vec![0.0, 0.5, 1.0],
            precision: vec![-1.0; 3],
        };
        let (_dir, img, svg) = write_both("undefined", &[undefined]);
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        assert_balanced(&svg);
        assert!(svg.contains("vehicle (no data)"));
    }

    #[test]
    fn undefined_points_break_the_curve() {
        let c = Curve {
            label: "x".into(),
            recall: vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.5],
            precision: vec![1.0, 0.9, -1.0, f64::NAN, 0.5, -1.0],
        };
        assert_eq!(
            segments(&c),
            vec![vec![(0.0, 1.0), (0.1, 0.9)], vec![(0.4, 0.5)]]
        );
        pr_chart_png("t", &[c]).unwrap();
    }

    #[test]
    fn twelve_classes_fit_with_long_labels() {
        let curves: Vec<Curve> = (0..12)
            .map(|i| {
                curve(
                    &format!("class-{i}-with-a-rather-long-name"),
                    0.3 + 0.05 * f64::from(i),
                )
            })
            .collect();
        let (_dir, img, svg) = write_both("twelve", &curves);
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        assert_balanced(&svg);
        // Labels too long for the legend column are shortened, every row shown.
        let texts = texts(&svg);
        for i in 0..12 {
            let prefix = format!("class-{i}-");
            let label = texts.iter().find(|t| t.starts_with(&prefix));
            assert!(label.is_some_and(|l| l.ends_with("..")), "{texts:?}");
        }
        // Every colour, solid and dashed, is distinct.
        let styles: std::collections::HashSet<_> = (0..12)
            .map(|i| {
                let (c, dashed) = curve_style(i);
                (c.0, c.1, c.2, dashed)
            })
            .collect();
        assert_eq!(styles.len(), 12);
    }

    #[test]
    fn write_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let good_png = dir.path().join("ok.png");
        let curves = [curve("person", 0.8)];

        let png = missing.join("pr.png");
        let err = pr_chart("t", &curves, &png, &dir.path().join("ok.svg")).unwrap_err();
        assert!(matches!(err, PlotError::Write { .. }));
        assert!(
            err.to_string().contains(&png.display().to_string()),
            "{err}"
        );

        let svg = missing.join("pr.svg");
        let err = pr_chart("t", &curves, &good_png, &svg).unwrap_err();
        assert!(
            err.to_string().contains(&svg.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn mismatched_lengths_are_an_error() {
        let bad = Curve {
            label: "boat".into(),
            recall: vec![0.0, 1.0],
            precision: vec![1.0],
        };
        let err = pr_chart_svg("t", &[bad]).unwrap_err();
        assert!(err.to_string().contains("boat"), "{err}");
    }

    #[test]
    fn bitmap_text_metrics_match_drawing() {
        let (w, h, cover) = rasterize("Ab", 16.0, 12.0);
        assert_eq!((w, h), (24, 16));
        assert!(cover.iter().any(|&c| c >= 1.0));
        assert!(cover.iter().all(|&c| c <= 1.0 + 1e-6));
    }
}
