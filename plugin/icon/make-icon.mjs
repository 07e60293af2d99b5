#!/usr/bin/env node
// Draws plugin/tlsa_manager.png, the 48x48 WHM plugin icon: a blue shield with a white padlock.
// No image tools needed: shapes are sampled 4x4 per pixel (anti-aliasing) and written as an
// RGBA PNG with zlib. Run: node plugin/icon/make-icon.mjs [out.png]
import { deflateSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SIZE = 48;
const SS = 4; // samples per axis per pixel

// Shield: flat top with rounded corners, straight sides, curving to a point at the bottom.
function inShield(x, y) {
  const top = 4, bottom = 45, left = 7, right = 41, cx = 24, r = 4;
  if (y < top || y > bottom || x < left || x > right) return false;
  if (y < top + r) {
    const ccx = x < cx ? left + r : right - r;
    if ((x < left + r || x > right - r) && (x - ccx) ** 2 + (y - (top + r)) ** 2 > r * r) return false;
  }
  const shoulder = 24;
  if (y <= shoulder) return true;
  // Below the shoulder the half-width shrinks along a curve to 0 at the tip.
  const t = (y - shoulder) / (bottom - shoulder);
  const half = (cx - left) * Math.sqrt(1 - t * t);
  return Math.abs(x - cx) <= half;
}

// Padlock: a rounded body and a shackle (ring segment above it), with a keyhole.
function inLock(x, y) {
  const bx0 = 16, bx1 = 32, by0 = 22, by1 = 35;
  const inBody = x >= bx0 && x <= bx1 && y >= by0 && y <= by1;
  const keyhole = (x - 24) ** 2 + (y - 27) ** 2 <= 2.2 ** 2 || (Math.abs(x - 24) <= 1 && y >= 27 && y <= 31.5);
  if (inBody) return !keyhole;
  const d = Math.hypot(x - 24, y - 19);
  if (y <= 19) return d >= 4 && d <= 6.6;
  if (y < by0) return (x >= 17.4 && x <= 20) || (x >= 28 && x <= 30.6);
  return false;
}

function shade(y) {
  // Vertical gradient from a lighter to a deeper blue.
  const t = y / SIZE;
  return [Math.round(41 + (14 - 41) * t), Math.round(128 + (72 - 128) * t), Math.round(214 + (150 - 214) * t)];
}

function pixels() {
  const out = Buffer.alloc(SIZE * SIZE * 4);
  for (let py = 0; py < SIZE; py++) {
    for (let px = 0; px < SIZE; px++) {
      let shield = 0, lock = 0;
      for (let sy = 0; sy < SS; sy++) {
        for (let sx = 0; sx < SS; sx++) {
          const x = px + (sx + 0.5) / SS, y = py + (sy + 0.5) / SS;
          if (inShield(x, y)) {
            shield++;
            if (inLock(x, y)) lock++;
          }
        }
      }
      const n = SS * SS;
      const i = (py * SIZE + px) * 4;
      if (shield === 0) continue;
      const [r, g, b] = shade(py);
      const w = lock / shield; // white share inside the shield
      out[i] = Math.round(r + (255 - r) * w);
      out[i + 1] = Math.round(g + (255 - g) * w);
      out[i + 2] = Math.round(b + (255 - b) * w);
      out[i + 3] = Math.round((255 * shield) / n);
    }
  }
  return out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

export function iconPng() {
  const rgba = pixels();
  const rows = [];
  for (let y = 0; y < SIZE; y++) rows.push(Buffer.from([0]), rgba.subarray(y * SIZE * 4, (y + 1) * SIZE * 4));
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(SIZE, 0);
  ihdr.writeUInt32BE(SIZE, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows), { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const out = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'tlsa_manager.png');
writeFileSync(out, iconPng());
process.stdout.write(`wrote ${out}\n`);
