"""Procedural overhead (nadir) scene generator for the lookout demo model.

Everything here is synthetic and deterministic: every random choice is drawn
from a ``numpy.random.Generator`` passed in by the caller, and drawing itself
is deterministic (Pillow primitives + numpy).

Classes (model indices): 0 person, 1 vessel, 2 container, 3 vehicle.

Scale convention: scenes are authored for a 1280x720 camera frame.  People are
about PERSON_SIZE px across, vessels 60-250 px long, containers ~40x100 px.

Main entry points
-----------------
``random_scene(rng, kind, w, h, thermal)``  -> Scene with random content
``Scene.render_static()``                   -> PIL image of the static layer
``Scene.render(rng)``                       -> (uint8 HxWx3 array, labels)
``Scene.labels(ox, oy, w, h)``              -> labels of a viewport

Labels are dicts ``{"cls": int, "bbox": [x, y, w, h], "oid": int}`` in pixel
coordinates of the rendered image / viewport.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CLASSES = ["person", "vessel", "container", "vehicle"]
PERSON, VESSEL, CONTAINER, VEHICLE = range(4)
FRAME_W, FRAME_H = 1280, 720
# Person diameter in 1280x720 frame pixels (slightly larger than the nominal
# 8-14 px so that the small demo model can localise them in a CPU budget).
PERSON_SIZE = (13.0, 18.0)

CONTAINER_COLOURS = [
    (170, 40, 35), (30, 70, 150), (40, 120, 60), (215, 120, 30), (120, 120, 125),
    (220, 220, 215), (110, 65, 40), (200, 180, 40), (20, 110, 130), (140, 30, 80),
]
CLOTHES = [
    (200, 30, 30), (30, 60, 170), (240, 240, 240), (30, 30, 30), (40, 140, 60),
    (230, 200, 40), (250, 120, 20), (120, 70, 140), (90, 90, 90), (150, 110, 70),
    (60, 170, 200), (220, 90, 140),
]
HAIR = [(25, 20, 15), (60, 40, 25), (120, 90, 50), (200, 170, 110), (150, 150, 150),
        (30, 30, 60), (200, 30, 30), (240, 240, 240)]
CAR_COLOURS = [(230, 230, 230), (20, 20, 25), (150, 150, 155), (170, 30, 30),
               (30, 60, 140), (60, 90, 60), (200, 170, 60), (100, 100, 110), (240, 240, 240)]


def _rot(points, angle, cx, cy):
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + u * c - v * s, cy + u * s + v * c) for u, v in points]


def _ellipse_poly(a, b, n=14):
    return [(a * math.cos(2 * math.pi * k / n), b * math.sin(2 * math.pi * k / n)) for k in range(n)]


def _shade(col, f):
    return tuple(int(max(0, min(255, c * f))) for c in col)


def _aabb(points):
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return [min(xs), min(ys), max(xs), max(ys)]


class Painter:
    """Wraps an ImageDraw with an offset and the rendering mode (rgb/thermal)."""

    def __init__(self, img, ox=0.0, oy=0.0, thermal=False):
        self.d = ImageDraw.Draw(img, "RGBA")
        self.ox, self.oy, self.thermal = ox, oy, thermal

    def c(self, rgb, t, a=255):
        if self.thermal:
            t = int(max(0, min(255, t)))
            return (t, t, t, a)
        return (int(rgb[0]), int(rgb[1]), int(rgb[2]), a)

    def poly(self, pts, fill):
        self.d.polygon([(x - self.ox, y - self.oy) for x, y in pts], fill=fill)

    def rect(self, x0, y0, x1, y1, fill):
        x0, x1 = min(x0, x1), max(x0, x1)
        y0, y1 = min(y0, y1), max(y0, y1)
        self.d.rectangle([x0 - self.ox, y0 - self.oy, x1 - self.ox, y1 - self.oy], fill=fill)

    def circle(self, x, y, r, fill):
        self.d.ellipse([x - r - self.ox, y - r - self.oy, x + r - self.ox, y + r - self.oy], fill=fill)

    def line(self, pts, fill, width=1):
        self.d.line([(x - self.ox, y - self.oy) for x, y in pts], fill=fill, width=width)


# --------------------------------------------------------------------------- objects
@dataclass
class Person:
    x: float
    y: float
    size: float
    angle: float
    clothes: tuple
    hair: tuple
    temp: float
    oid: int = -1
    cls: int = PERSON
    dynamic: bool = True
    # optional per-frame trajectory: callable(t) -> (x, y)
    path: object = None

    @staticmethod
    def random(rng, x, y, hivis=False, size=None):
        if size is None:
            size = rng.uniform(*PERSON_SIZE)
        if hivis:
            clothes = [(250, 140, 20), (220, 240, 40)][rng.integers(2)]
        else:
            clothes = CLOTHES[rng.integers(len(CLOTHES))]
        clothes = _shade(clothes, rng.uniform(0.8, 1.15))
        return Person(x, y, size, rng.uniform(0, math.pi), clothes,
                      HAIR[rng.integers(len(HAIR))], rng.uniform(205, 245))

    def pos(self, t):
        if self.path is not None:
            return self.path(t)
        return self.x, self.y

    def shape(self, t=0.0):
        x, y = self.pos(t)
        d = self.size
        body = _rot(_ellipse_poly(d / 2, d * 0.33), self.angle, x, y)
        return x, y, d, body

    def bbox(self, t=0.0):
        x, y, d, body = self.shape(t)
        x0, y0, x1, y1 = _aabb(body)
        r = d * 0.27
        return [min(x0, x - r), min(y0, y - r), max(x1, x + r), max(y1, y + r)]

    def draw(self, p: Painter, t=0.0):
        x, y, d, body = self.shape(t)
        sh = [(bx + d * 0.3, by + d * 0.3) for bx, by in body]
        p.poly(sh, p.c((0, 0, 0), 0, 110))
        p.poly(body, p.c(self.clothes, self.temp - 15))
        p.circle(x, y, d * 0.27, p.c(self.hair, self.temp + 10))


@dataclass
class Vessel:
    cx: float
    cy: float
    length: float
    width: float
    angle: float
    hull: tuple
    deck: tuple
    cabin: bool
    kind: str
    oid: int = -1
    cls: int = VESSEL
    dynamic: bool = False
    persons: list = field(default_factory=list)

    def local_to_world(self, pts):
        return _rot(pts, self.angle, self.cx, self.cy)

    def hull_local(self, inset=0.0):
        L, W = self.length / 2 - inset, self.width / 2 - inset
        if self.kind == "skiff":
            return [(-L, -W), (L * 0.35, -W), (L * 0.8, -W * 0.6), (L, 0), (L * 0.8, W * 0.6), (L * 0.35, W), (-L, W)]
        return [(-L, -W), (L * 0.3, -W), (L * 0.75, -W * 0.7), (L, 0), (L * 0.75, W * 0.7), (L * 0.3, W), (-L, W)]

    def bbox(self, t=0.0):
        return _aabb(self.local_to_world(self.hull_local()))

    def deck_region(self):
        """Local (u0, u1, half_width) region free for people."""
        L = self.length / 2
        u0 = -L + (0.34 * self.length if self.cabin else 0.12 * self.length)
        return u0, L * 0.55, self.width / 2 - max(3.0, self.width * 0.12)

    def draw_wake(self, p: Painter):
        L, W = self.length / 2, self.width / 2
        wake = [(-L, -W * 0.8), (-L - self.length * 0.9, -W * 2.2), (-L - self.length * 0.9, W * 2.2), (-L, W * 0.8)]
        p.poly(self.local_to_world(wake), p.c((235, 240, 240), 95, 70))
        inner = [(-L, -W * 0.4), (-L - self.length * 0.5, -W * 0.8), (-L - self.length * 0.5, W * 0.8), (-L, W * 0.4)]
        p.poly(self.local_to_world(inner), p.c((245, 250, 250), 110, 90))
        bow = [(L * 0.6, -W * 1.05), (L * 1.02, 0), (L * 0.6, W * 1.05), (L * 0.2, W * 1.3), (L * 0.7, 0), (L * 0.2, -W * 1.3)]
        p.poly(self.local_to_world(bow), p.c((240, 245, 245), 90, 60))

    def draw(self, p: Painter, t=0.0):
        self.draw_wake(p)
        L, W = self.length / 2, self.width / 2
        # engine at the stern (hot in thermal)
        eng = [(-L - 6, -3.5), (-L + 2, -3.5), (-L + 2, 3.5), (-L - 6, 3.5)]
        p.poly(self.local_to_world(eng), p.c((40, 40, 40), 235))
        p.poly(self.local_to_world([(u + 1.5, v + 1.5) for u, v in self.hull_local()]), p.c((0, 0, 0), 0, 60))
        p.poly(self.local_to_world(self.hull_local()), p.c(self.hull, 125))
        p.poly(self.local_to_world(self.hull_local(inset=max(2.5, W * 0.18))), p.c(self.deck, 110))
        # thwarts / deck planks
        n = int(self.length / 22)
        for k in range(1, n):
            u = -L + k * self.length / n
            if u > L * 0.6:
                break
            seg = [(u, -W * 0.75), (u, W * 0.75)]
            p.line(self.local_to_world(seg), p.c(_shade(self.deck, 0.8), 100), width=2)
        if self.cabin:
            cab = [(-L + 0.08 * self.length, -W * 0.6), (-L + 0.3 * self.length, -W * 0.6),
                   (-L + 0.3 * self.length, W * 0.6), (-L + 0.08 * self.length, W * 0.6)]
            p.poly(self.local_to_world([(u + 2, v + 2) for u, v in cab]), p.c((0, 0, 0), 0, 80))
            p.poly(self.local_to_world(cab), p.c((235, 235, 230), 150))
            win = [(-L + 0.26 * self.length, -W * 0.5), (-L + 0.29 * self.length, -W * 0.5),
                   (-L + 0.29 * self.length, W * 0.5), (-L + 0.26 * self.length, W * 0.5)]
            p.poly(self.local_to_world(win), p.c((40, 60, 80), 90))

    @staticmethod
    def random(rng, cx, cy, length=None, kind=None, angle=None):
        if kind is None:
            kind = "skiff" if rng.random() < 0.45 else "boat"
        if length is None:
            length = rng.uniform(60, 130) if kind == "skiff" else rng.uniform(110, 250)
        width = length * (rng.uniform(0.34, 0.42) if kind == "skiff" else rng.uniform(0.3, 0.38))
        if angle is None:
            angle = rng.uniform(-math.pi, math.pi)
        if kind == "skiff":
            hull = [(70, 70, 75), (230, 110, 30), (200, 200, 200), (40, 40, 45), (150, 40, 40)][rng.integers(5)]
            deck = _shade(hull, rng.uniform(0.7, 0.9))
        else:
            hull = [(240, 240, 240), (30, 70, 140), (170, 40, 40), (60, 120, 80), (220, 200, 60)][rng.integers(5)]
            deck = [(170, 130, 80), (200, 200, 195), (130, 100, 70), (150, 160, 165)][rng.integers(4)]
        cabin = kind == "boat" and rng.random() < 0.8
        return Vessel(cx, cy, length, width, angle, _shade(hull, rng.uniform(0.85, 1.1)), deck, cabin, kind)

    def add_people(self, rng, n):
        u0, u1, hw = self.deck_region()
        placed = []
        tries = 0
        while len(placed) < n and tries < n * 80:
            tries += 1
            s = rng.uniform(*PERSON_SIZE)
            u = rng.uniform(u0 + s * 0.5, u1 - s * 0.3)
            # bow taper
            taper = 1.0 if u < self.length * 0.15 else max(0.2, 1 - (u - self.length * 0.15) / (self.length * 0.4))
            lim = hw * taper - s * 0.45
            if lim <= 0:
                continue
            v = rng.uniform(-lim, lim)
            if any((u - a) ** 2 + (v - b) ** 2 < (0.8 * (s + c) / 2) ** 2 for a, b, c in placed):
                continue
            placed.append((u, v, s))
        out = []
        for u, v, s in placed:
            (x, y), = self.local_to_world([(u, v)])
            out.append(Person.random(rng, x, y, size=s))
        self.persons = out
        return out


@dataclass
class Container:
    x: float
    y: float
    w: float
    h: float
    colour: tuple
    open_top: bool
    doors: int  # 0 none, 1 doors open at the low end, 2 at the high end
    temp: float
    oid: int = -1
    cls: int = CONTAINER
    dynamic: bool = False
    persons: list = field(default_factory=list)

    def bbox(self, t=0.0):
        return [self.x, self.y, self.x + self.w, self.y + self.h]

    def interior(self):
        m = 3.0
        return self.x + m, self.y + m, self.x + self.w - m, self.y + self.h - m

    def draw(self, p: Painter, t=0.0):
        x0, y0, x1, y1 = self.bbox()
        p.rect(x0 + 3, y0 + 3, x1 + 3, y1 + 3, p.c((0, 0, 0), 0, 80))
        p.rect(x0, y0, x1, y1, p.c(self.colour, self.temp))
        vertical = self.h > self.w
        if self.open_top:
            ix0, iy0, ix1, iy1 = self.interior()
            p.rect(ix0, iy0, ix1, iy1, p.c((70, 55, 40), 92))
            # inner wall shadow
            if vertical:
                p.rect(ix0, iy0, ix0 + 3, iy1, p.c((0, 0, 0), 0, 90))
            else:
                p.rect(ix0, iy0, ix1, iy0 + 3, p.c((0, 0, 0), 0, 90))
        else:
            dark = p.c(_shade(self.colour, 0.78), self.temp - 12)
            if vertical:
                for yy in np.arange(y0 + 4, y1 - 2, 4.0):
                    p.line([(x0 + 1, yy), (x1 - 1, yy)], dark)
            else:
                for xx in np.arange(x0 + 4, x1 - 2, 4.0):
                    p.line([(xx, y0 + 1), (xx, y1 - 1)], dark)
            p.rect(x0, y0, x1, y0 + 1, p.c(_shade(self.colour, 0.6), self.temp - 20))
            p.rect(x0, y0, x0 + 1, y1, p.c(_shade(self.colour, 0.6), self.temp - 20))
        if self.doors:
            col = p.c(_shade(self.colour, 0.9), self.temp - 5)
            if vertical:
                yy = y0 if self.doors == 1 else y1
                sgn = -1 if self.doors == 1 else 1
                hw = self.w / 2
                p.rect(x0 - hw + 2, yy, x0 + 1, yy + sgn * 2.5, col)
                p.rect(x1 - 1, yy, x1 + hw - 2, yy + sgn * 2.5, col)
            else:
                xx = x0 if self.doors == 1 else x1
                sgn = -1 if self.doors == 1 else 1
                hh = self.h / 2
                p.rect(xx, y0 - hh + 2, xx + sgn * 2.5, y0 + 1, col)
                p.rect(xx, y1 - 1, xx + sgn * 2.5, y1 + hh - 2, col)

    @staticmethod
    def random(rng, x, y, vertical, open_top=False):
        L = rng.uniform(92, 108)
        W = rng.uniform(38, 44)
        w, h = (W, L) if vertical else (L, W)
        col = _shade(CONTAINER_COLOURS[rng.integers(len(CONTAINER_COLOURS))], rng.uniform(0.8, 1.1))
        doors = int(rng.integers(1, 3)) if (open_top and rng.random() < 0.6) else 0
        return Container(x, y, w, h, col, open_top, doors, rng.uniform(140, 175))

    def add_people(self, rng, n):
        ix0, iy0, ix1, iy1 = self.interior()
        placed = []
        tries = 0
        while len(placed) < n and tries < n * 80:
            tries += 1
            s = rng.uniform(*PERSON_SIZE)
            px = rng.uniform(ix0 + s * 0.5, ix1 - s * 0.5)
            py = rng.uniform(iy0 + s * 0.5, iy1 - s * 0.5)
            if any((px - a) ** 2 + (py - b) ** 2 < (0.85 * (s + c) / 2) ** 2 for a, b, c in placed):
                continue
            placed.append((px, py, s))
        self.persons = [Person.random(rng, a, b, size=c) for a, b, c in placed]
        return self.persons


@dataclass
class Vehicle:
    cx: float
    cy: float
    length: float
    width: float
    angle: float
    colour: tuple
    truck: bool
    bed: tuple
    cargo: list
    oid: int = -1
    cls: int = VEHICLE
    dynamic: bool = False
    persons: list = field(default_factory=list)

    def outline(self):
        L, W = self.length / 2, self.width / 2
        return _rot([(-L, -W), (L, -W), (L, W), (-L, W)], self.angle, self.cx, self.cy)

    def bbox(self, t=0.0):
        return _aabb(self.outline())

    def bed_region(self):
        L, W = self.length / 2, self.width / 2
        cab = min(28.0, self.length * 0.3)
        return -L + 3, L - cab - 3, W - 3

    def draw(self, p: Painter, t=0.0):
        L, W = self.length / 2, self.width / 2
        R = lambda pts: _rot(pts, self.angle, self.cx, self.cy)  # noqa: E731
        p.poly([(x + 3, y + 3) for x, y in self.outline()], p.c((0, 0, 0), 0, 90))
        if not self.truck:
            p.poly(self.outline(), p.c(self.colour, 130))
            p.poly(R([(L * 0.45, -W * 0.8), (L * 0.95, -W * 0.8), (L * 0.95, W * 0.8), (L * 0.45, W * 0.8)]), p.c(_shade(self.colour, 0.95), 200))
            p.poly(R([(L * 0.15, -W * 0.75), (L * 0.45, -W * 0.85), (L * 0.45, W * 0.85), (L * 0.15, W * 0.75)]), p.c((35, 45, 55), 100))
            p.poly(R([(-L * 0.6, -W * 0.75), (L * 0.15, -W * 0.75), (L * 0.15, W * 0.75), (-L * 0.6, W * 0.75)]), p.c(_shade(self.colour, 1.1), 125))
            p.poly(R([(-L * 0.85, -W * 0.7), (-L * 0.6, -W * 0.75), (-L * 0.6, W * 0.75), (-L * 0.85, W * 0.7)]), p.c((35, 45, 55), 100))
            return
        cab = min(28.0, self.length * 0.3)
        p.poly(R([(L - cab, -W), (L, -W), (L, W), (L - cab, W)]), p.c(self.colour, 205))
        p.poly(R([(L - cab * 0.35, -W * 0.85), (L - 2, -W * 0.85), (L - 2, W * 0.85), (L - cab * 0.35, W * 0.85)]), p.c((35, 45, 55), 120))
        p.poly(R([(-L, -W), (L - cab - 2, -W), (L - cab - 2, W), (-L, W)]), p.c(_shade(self.bed, 0.7), 120))
        p.poly(R([(-L + 2, -W + 2), (L - cab - 4, -W + 2), (L - cab - 4, W - 2), (-L + 2, W - 2)]), p.c(self.bed, 110))
        for (u, v, s, col) in self.cargo:
            p.poly(R([(u - s, v - s * 0.8), (u + s, v - s * 0.8), (u + s, v + s * 0.8), (u - s, v + s * 0.8)]), p.c(col, 115))
            p.poly(R([(u - s, v - 0.5), (u + s, v - 0.5), (u + s, v + 0.5), (u - s, v + 0.5)]), p.c(_shade(col, 0.7), 105))

    @staticmethod
    def random(rng, cx, cy, angle, truck=None, cargo=None):
        if truck is None:
            truck = rng.random() < 0.4
        if truck:
            length, width = rng.uniform(85, 125), rng.uniform(28, 34)
        else:
            length, width = rng.uniform(38, 50), rng.uniform(18, 22)
        col = _shade(CAR_COLOURS[rng.integers(len(CAR_COLOURS))], rng.uniform(0.85, 1.1))
        bed = [(120, 120, 120), (140, 105, 70), (90, 90, 95), (160, 160, 150)][rng.integers(4)]
        v = Vehicle(cx, cy, length, width, angle, col, truck, bed, [])
        if truck and (cargo if cargo is not None else rng.random() < 0.4):
            u0, u1, hw = v.bed_region()
            for _ in range(int(rng.integers(1, 4))):
                s = rng.uniform(6, 11)
                v.cargo.append((rng.uniform(u0 + s, u1 - s), rng.uniform(-hw + s, hw - s), s,
                                [(150, 110, 60), (200, 180, 140), (60, 80, 120)][rng.integers(3)]))
        return v

    def add_people(self, rng, n):
        u0, u1, hw = self.bed_region()
        placed = []
        tries = 0
        while len(placed) < n and tries < n * 80:
            tries += 1
            s = rng.uniform(*PERSON_SIZE)
            u = rng.uniform(u0 + s * 0.5, u1 - s * 0.5)
            v = rng.uniform(-hw + s * 0.5, hw - s * 0.5)
            if any((u - a) ** 2 + (v - b) ** 2 < (0.85 * (s + c) / 2) ** 2 for a, b, c in placed):
                continue
            placed.append((u, v, s))
        out = []
        for u, v, s in placed:
            (x, y), = _rot([(u, v)], self.angle, self.cx, self.cy)
            out.append(Person.random(rng, x, y, size=s))
        self.persons = out
        return out


@dataclass
class Clutter:
    """Unlabelled distractors: buoys, bollards, crates, cones, bushes, debris."""
    x: float
    y: float
    r: float
    kind: str
    colour: tuple
    temp: float
    dynamic: bool = False
    cls: int = -1
    oid: int = -1

    def draw(self, p: Painter, t=0.0):
        x, y, r = self.x, self.y, self.r
        if self.kind in ("crate", "pallet"):
            p.rect(x - r + 2, y - r + 2, x + r + 2, y + r + 2, p.c((0, 0, 0), 0, 80))
            p.rect(x - r, y - r, x + r, y + r, p.c(self.colour, self.temp))
            p.line([(x - r, y), (x + r, y)], p.c(_shade(self.colour, 0.7), self.temp - 10))
        elif self.kind == "bush":
            p.circle(x + 3, y + 3, r, p.c((0, 0, 0), 0, 70))
            p.circle(x, y, r, p.c(self.colour, self.temp))
            p.circle(x - r * 0.3, y - r * 0.3, r * 0.5, p.c(_shade(self.colour, 1.2), self.temp + 5))
        elif self.kind == "slick":
            p.circle(x, y, r, p.c(self.colour, self.temp, 60))
        else:  # buoy, bollard, cone
            p.circle(x + r * 0.5, y + r * 0.5, r, p.c((0, 0, 0), 0, 80))
            p.circle(x, y, r, p.c(self.colour, self.temp))


# --------------------------------------------------------------------------- backgrounds
def _lowfreq(rng, w, h, cell):
    small = rng.random((h // cell + 3, w // cell + 3)).astype(np.float32)
    im = Image.fromarray(small, mode="F").resize((w + 3 * cell, h + 3 * cell), Image.BICUBIC)
    a = np.asarray(im)
    return a[cell:cell + h, cell:cell + w]


def background(rng, kind, w, h, thermal, road=None):
    """Returns (HxWx3 uint8 array, extra dict) for the scene kind.

    ``road`` optionally fixes the road layout as (vertical, centre, width)."""
    yy = np.arange(h, dtype=np.float32)[:, None]
    xx = np.arange(w, dtype=np.float32)[None, :]
    f1 = _lowfreq(rng, w, h, 96)
    f2 = _lowfreq(rng, w, h, 24)
    fine = rng.normal(0, 1, (h, w)).astype(np.float32)
    extra = {}
    if kind == "sea":
        ang = rng.uniform(0, math.pi)
        k = rng.uniform(0.12, 0.25)
        ph = f2 * rng.uniform(4, 9)
        wave = np.sin((xx * math.cos(ang) + yy * math.sin(ang)) * k + ph)
        crest = np.clip(wave - 0.75, 0, None) * 4 * (f1 > 0.35)
        if thermal:
            g = 40 + 18 * f1 + 6 * wave + 14 * crest + 3 * fine
            img = np.repeat(g[..., None], 3, 2)
        else:
            base = np.array([[18, 60, 85], [20, 75, 90], [30, 70, 100], [25, 55, 70], [40, 90, 110]][rng.integers(5)], np.float32)
            base = base * rng.uniform(0.8, 1.2)
            img = base[None, None, :] * (0.8 + 0.4 * f1[..., None]) + 7 * wave[..., None] + 45 * crest[..., None] + 3 * fine[..., None]
    elif kind == "port":
        if thermal:
            g = 95 + 20 * f1 + 8 * f2 + 5 * fine
            img = np.repeat(g[..., None], 3, 2)
        else:
            base = np.array([[150, 148, 140], [120, 118, 112], [170, 165, 150], [105, 100, 95]][rng.integers(4)], np.float32)
            img = base[None, None, :] * (0.85 + 0.25 * f1[..., None] + 0.1 * f2[..., None]) + 5 * fine[..., None]
        slab = rng.uniform(60, 120)
        joints = ((xx % slab) < 1.5) | ((yy % slab) < 1.5)
        img = np.where(joints[..., None], img * 0.85, img)
    else:  # road
        vertical = rng.random() < 0.5
        rw = rng.uniform(170, 260)
        c = rng.uniform(0.3, 0.7) * (w if vertical else h)
        if road is not None:
            vertical, c, rw = road
        coord = xx if vertical else yy
        road = np.abs(coord - c) < rw / 2
        side = (np.abs(coord - c) < rw / 2 + 22) & ~road
        if thermal:
            g = np.where(road, 120, np.where(side, 105, 75)).astype(np.float32) + 15 * f1 + 6 * f2 + 4 * fine
            img = np.repeat(g[..., None], 3, 2)
        else:
            grass = np.array([[70, 100, 50], [110, 120, 70], [140, 120, 85], [80, 90, 55]][rng.integers(4)], np.float32)
            asphalt = np.array([70, 70, 72], np.float32) * rng.uniform(0.8, 1.3)
            walk = np.array([165, 160, 150], np.float32)
            img = np.where(road[..., None], asphalt, np.where(side[..., None], walk, grass * (0.75 + 0.5 * f2[..., None])))
            img = img * (0.9 + 0.2 * f1[..., None]) + 4 * fine[..., None]
        # lane markings
        dash = ((xx if not vertical else yy) % 60) < 30
        for off in (0.0,):
            m = (np.abs(coord - c - off) < 1.5) & dash
            img = np.where(m[..., None], np.float32(150 if thermal else 230), img)
        for off in (-rw / 2 + 6, rw / 2 - 6):
            m = np.abs(coord - c - off) < 1.2
            img = np.where(m[..., None], np.float32(140 if thermal else 220), img)
        extra = {"vertical": vertical, "c": c, "rw": rw}
    return np.clip(img, 0, 255).astype(np.uint8), extra


# --------------------------------------------------------------------------- scenes
@dataclass
class Scene:
    w: int
    h: int
    kind: str
    thermal: bool
    bg: np.ndarray
    objects: list  # labelled, static objects (vessel/container/vehicle)
    persons: list  # labelled persons (drawn after the static layer)
    clutter: list
    light: float = 1.0
    tint: tuple = (1.0, 1.0, 1.0)
    blur: float = 0.6
    noise: float = 3.0

    def assign_ids(self, start=1):
        k = start
        for o in self.objects + self.persons:
            o.oid = k
            k += 1
        return k

    def render_static(self):
        img = Image.fromarray(self.bg)
        p = Painter(img, thermal=self.thermal)
        for c in self.clutter:
            c.draw(p)
        # vessels (with wakes) first, then the rest
        for o in sorted(self.objects, key=lambda o: o.cls != VESSEL):
            o.draw(p)
        return img

    def render_view(self, static, ox, oy, w, h, t=0.0, rng=None):
        """Crop the static layer at (ox, oy), draw persons at time t, post-process."""
        img = static.crop((int(ox), int(oy), int(ox) + w, int(oy) + h))
        p = Painter(img, int(ox), int(oy), thermal=self.thermal)
        for q in self.persons:
            q.draw(p, t)
        return self.post(img, rng)

    def post(self, img, rng=None):
        if self.blur > 0:
            img = img.filter(ImageFilter.GaussianBlur(self.blur))
        a = np.asarray(img).astype(np.float32)
        if self.thermal:
            a = a * self.light
        else:
            a = a * (self.light * np.array(self.tint, np.float32))[None, None, :]
        if rng is not None and self.noise > 0:
            n = rng.normal(0, self.noise, a.shape[:2]).astype(np.float32)
            a = a + n[..., None]
        return np.clip(a + 0.5, 0, 255).astype(np.uint8)

    def render(self, rng=None, t=0.0):
        return self.render_view(self.render_static(), 0, 0, self.w, self.h, t, rng), self.labels(0, 0, self.w, self.h, t)

    def labels(self, ox, oy, w, h, t=0.0, min_visible=0.6):
        out = []
        for o in self.objects + self.persons:
            x0, y0, x1, y1 = o.bbox(t)
            x0, x1, y0, y1 = x0 - ox, x1 - ox, y0 - oy, y1 - oy
            area = max(1e-6, (x1 - x0) * (y1 - y0))
            cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
            if cx1 <= cx0 or cy1 <= cy0:
                continue
            if (cx1 - cx0) * (cy1 - cy0) / area < min_visible:
                continue
            out.append({"cls": o.cls, "bbox": [cx0, cy0, cx1 - cx0, cy1 - cy0], "oid": o.oid})
        return out


def _free(boxes, b, margin=4):
    x0, y0, x1, y1 = b
    for a in boxes:
        if x0 < a[2] + margin and a[0] < x1 + margin and y0 < a[3] + margin and a[1] < y1 + margin:
            return False
    return True


def _style(rng, thermal):
    light = rng.uniform(0.75, 1.2)
    tint = tuple(float(v) for v in rng.uniform(0.94, 1.06, 3)) if not thermal else (1.0, 1.0, 1.0)
    blur = rng.uniform(0.5, 1.4) if thermal else rng.uniform(0.2, 1.0)
    noise = rng.uniform(1.0, 5.0)
    return light, tint, blur, noise


def populate_sea(rng, w, h, n_vessels=None, crowded_p=0.45):
    objs, persons, boxes, clutter = [], [], [], []
    n = int(rng.integers(0, 6)) if n_vessels is None else n_vessels
    for _ in range(n * 10):
        if len(objs) >= n:
            break
        v = Vessel.random(rng, rng.uniform(0, w), rng.uniform(0, h))
        b = v.bbox()
        if not _free(boxes, b, 25):
            continue
        boxes.append(b)
        objs.append(v)
        crowded = v.length >= 100 and rng.random() < crowded_p
        k = int(rng.integers(10, 31)) if crowded else int(rng.integers(0, 4))
        persons += v.add_people(rng, k)
    for _ in range(int(rng.integers(0, 8))):
        kind = "buoy" if rng.random() < 0.6 else "slick"
        col = [(230, 110, 20), (220, 40, 30), (240, 240, 240), (230, 210, 40)][rng.integers(4)]
        r = rng.uniform(3, 6) if kind == "buoy" else rng.uniform(8, 20)
        clutter.append(Clutter(rng.uniform(0, w), rng.uniform(0, h), r, kind, col if kind == "buoy" else (60, 60, 50),
                               rng.uniform(120, 190) if kind == "buoy" else 30))
    return objs, persons, clutter


def populate_port(rng, w, h, open_p=0.5, walkers=None):
    objs, persons, boxes, clutter = [], [], [], []
    vertical = rng.random() < 0.5
    gap = rng.uniform(3, 8)
    outer_lim, inner_lim = (h, w) if vertical else (w, h)
    y = rng.uniform(-60, 40)
    while y < outer_lim:
        # a block of containers: one row of side by side containers
        cont_long = rng.uniform(92, 108)
        lane = rng.uniform(40, 110)
        x = rng.uniform(-60, 20)
        while x < inner_lim:
            if rng.random() < 0.15:
                x += rng.uniform(40, 90)
                continue
            is_open = rng.random() < open_p * 0.25
            if vertical:
                c = Container.random(rng, x, y, True, open_top=is_open)
                c.h = cont_long
                x += c.w + gap
            else:
                c = Container.random(rng, y, x, False, open_top=is_open)
                c.w = cont_long
                x += c.h + gap
            b = c.bbox()
            if not _free(boxes, b, 1):
                continue
            boxes.append(b)
            objs.append(c)
            if is_open:
                persons += c.add_people(rng, int(rng.integers(0, 9)))
        y += cont_long + lane
    nwalk = int(rng.integers(0, 6)) if walkers is None else walkers
    for _ in range(nwalk * 10):
        if nwalk <= 0:
            break
        px, py = rng.uniform(0, w), rng.uniform(0, h)
        if any(b[0] - 4 < px < b[2] + 4 and b[1] - 4 < py < b[3] + 4 for b in boxes):
            continue
        persons.append(Person.random(rng, px, py, hivis=rng.random() < 0.5))
        nwalk -= 1
    for _ in range(int(rng.integers(0, 10))):
        px, py = rng.uniform(0, w), rng.uniform(0, h)
        if any(b[0] - 10 < px < b[2] + 10 and b[1] - 10 < py < b[3] + 10 for b in boxes):
            continue
        kind = ["crate", "pallet", "bollard", "cone"][rng.integers(4)]
        col = {"crate": (150, 110, 60), "pallet": (170, 140, 90), "bollard": (60, 60, 60), "cone": (240, 120, 20)}[kind]
        r = rng.uniform(7, 14) if kind in ("crate", "pallet") else rng.uniform(3, 6)
        clutter.append(Clutter(px, py, r, kind, col, rng.uniform(100, 160)))
    return objs, persons, clutter


def populate_road(rng, w, h, extra, truck_people_p=0.3, pedestrians=None):
    objs, persons, boxes, clutter = [], [], [], []
    vertical, c, rw = extra["vertical"], extra["c"], extra["rw"]
    n = int(rng.integers(1, 10))
    for _ in range(n * 8):
        if len(objs) >= n:
            break
        lane = rng.choice([-1, 1])
        off = c + lane * rw * rng.uniform(0.15, 0.32)
        along = rng.uniform(0, w if not vertical else h)
        ang = (math.pi / 2 if vertical else 0.0) + (math.pi if lane < 0 else 0.0) + rng.normal(0, 0.04)
        cx, cy = (off, along) if vertical else (along, off)
        v = Vehicle.random(rng, cx, cy, ang)
        b = v.bbox()
        if not _free(boxes, b, 8):
            continue
        boxes.append(b)
        objs.append(v)
        if v.truck and not v.cargo and rng.random() < truck_people_p:
            persons += v.add_people(rng, int(rng.integers(2, 9)))
    # parked / off-road vehicles
    for _ in range(int(rng.integers(0, 3))):
        side = rng.choice([-1, 1])
        off = c + side * (rw / 2 + rng.uniform(50, 150))
        along = rng.uniform(0, w if not vertical else h)
        cx, cy = (off, along) if vertical else (along, off)
        v = Vehicle.random(rng, cx, cy, rng.uniform(0, math.pi), truck=False)
        b = v.bbox()
        if _free(boxes, b, 8):
            boxes.append(b)
            objs.append(v)
    npd = int(rng.integers(0, 5)) if pedestrians is None else pedestrians
    for _ in range(npd):
        side = rng.choice([-1, 1])
        off = c + side * (rw / 2 + rng.uniform(4, 18))
        along = rng.uniform(0, w if not vertical else h)
        px, py = (off, along) if vertical else (along, off)
        persons.append(Person.random(rng, px, py))
    for _ in range(int(rng.integers(0, 10))):
        off = c + rng.choice([-1, 1]) * (rw / 2 + rng.uniform(30, 300))
        along = rng.uniform(0, w if not vertical else h)
        px, py = (off, along) if vertical else (along, off)
        clutter.append(Clutter(px, py, rng.uniform(8, 22), "bush",
                               [(40, 80, 35), (60, 100, 40), (30, 60, 30)][rng.integers(3)], rng.uniform(60, 85)))
    return objs, persons, clutter


def random_scene(rng, kind=None, w=FRAME_W, h=FRAME_H, thermal=None):
    if kind is None:
        kind = ["sea", "port", "road"][rng.integers(3)]
    if thermal is None:
        thermal = rng.random() < 0.3
    bg, extra = background(rng, kind, w, h, thermal)
    if kind == "sea":
        objs, persons, clutter = populate_sea(rng, w, h)
    elif kind == "port":
        objs, persons, clutter = populate_port(rng, w, h)
    else:
        objs, persons, clutter = populate_road(rng, w, h, extra)
    light, tint, blur, noise = _style(rng, thermal)
    s = Scene(w, h, kind, thermal, bg, objs, persons, clutter, light, tint, blur, noise)
    s.assign_ids()
    return s


def letterbox(img: np.ndarray, size=640):
    """Ultralytics-style letterbox (bilinear resize, centred pad 114).

    Returns (float32 CHW in 0..1, scale, (pad_x, pad_y))."""
    h, w = img.shape[:2]
    r = min(size / w, size / h)
    nw, nh = int(round(w * r)), int(round(h * r))
    im = np.asarray(Image.fromarray(img).resize((nw, nh), Image.BILINEAR))
    out = np.full((size, size, 3), 114, np.uint8)
    px, py = (size - nw) // 2, (size - nh) // 2
    out[py:py + nh, px:px + nw] = im
    return out.astype(np.float32).transpose(2, 0, 1) / 255.0, r, (px, py)


if __name__ == "__main__":  # quick visual check
    import sys
    rng = np.random.default_rng(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    for i, kind in enumerate(["sea", "port", "road", "sea"]):
        s = random_scene(rng, kind, thermal=(i == 3))
        img, labels = s.render(rng)
        im = Image.fromarray(img)
        d = ImageDraw.Draw(im)
        for lab in labels:
            x, y, bw, bh = lab["bbox"]
            d.rectangle([x, y, x + bw, y + bh], outline=[(255, 0, 0), (0, 255, 0), (255, 255, 0), (0, 255, 255)][lab["cls"]])
        im.save(f"/tmp/scene_{i}.png")
        print(kind, len(labels), [sum(1 for l in labels if l["cls"] == c) for c in range(4)])
