/*
 * desktop: scene state and software renderer for clove-demo.
 *
 * DESIGN
 * The scene is a pure function of its state: a task bar with the title and a
 * clock, and four windows ("About", "Notes" showing typed keys, "Activity"
 * with the animated area, "Pointer" with pointer status), plus marks where
 * the mouse was clicked. desktop_update() renders the whole scene into the
 * back buffer, then compares it with the front buffer in TILE_W x TILE_H
 * tiles. Changed tiles are copied to the front buffer and grouped into
 * horizontal runs per tile row; a run is either one solid colour (and solid
 * runs of the same colour and span in consecutive tile rows are merged
 * vertically, so the background becomes a few large fills) or mixed pixels.
 *
 * Rendering everything each time costs a few milliseconds at 1024x768 and
 * makes the dirty tracking exact by construction: the front buffer always
 * equals what the client has been sent.
 *
 * All UI colours have 8-bit channels that survive a round trip through 5-bit
 * channels with bit replication (e.g. 0x29, 0x5A, 0x8C), so areas made only
 * of them can be sent as 16-bit bitmaps without changing what is displayed.
 * The animated gradient deliberately does not, and is sent in 24/32 bit.
 */
#include "desktop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "font.h"

#define TILE_W             64
#define TILE_H             16

#define MAX_CLICKS         32

#define COLOR_BACKGROUND   0x295A8Cu
#define COLOR_TASKBAR      0x182131u
#define COLOR_TASKBAR_TEXT 0xDEE7EFu
#define COLOR_BORDER       0x101821u
#define COLOR_TITLE        0x397BC6u
#define COLOR_TITLE_TEXT   0xFFFFFFu
#define COLOR_BODY         0xEFEFE7u
#define COLOR_BODY_TEXT    0x212121u
#define COLOR_NOTES_BODY   0xFFFFFFu
#define COLOR_STATUS_TEXT  0x4A4A4Au
#define COLOR_TEXT_CURSOR  0x397BC6u
#define COLOR_SHADOW       0x18314Au
#define COLOR_CLICK_LEFT   0xE73131u
#define COLOR_CLICK_RIGHT  0x31A542u
#define COLOR_CLICK_MIDDLE 0xE7A521u
#define COLOR_SWATCH_A     0x8C4A94u
#define COLOR_SWATCH_B     0x63A5C6u

#define TITLE_H            18
#define TASKBAR_H          24

struct area {
    int x;
    int y;
    int w;
    int h;
};

struct click_mark {
    int x;
    int y;
    int button;
};

struct desktop {
    int width;
    int height;
    bool animation;
    char name[64];
    uint32_t background;

    uint32_t *front;
    uint32_t *back;
    bool first_update;

    /* Layout, computed once from the size. */
    struct area about;
    struct area notes;
    struct area activity;
    struct area pointer_win;

    /* Notes window text: rows x (cols + 1) characters, NUL-terminated lines. */
    int notes_rows;
    int notes_cols;
    char *notes_text;
    int cursor_row;
    int cursor_col;
    unsigned keys_typed;

    uint32_t last_scancode;
    unsigned leds;

    int pointer_x;
    int pointer_y;
    uint32_t buttons;
    bool server_mode;
    int wheel_total;
    struct click_mark clicks[MAX_CLICKS];
    int click_count; /* total ever; the ring keeps the last MAX_CLICKS */

    uint64_t phase;
    int seconds_of_day;

    struct desktop_rect *rects;
    int rect_capacity;
};

/* ---- drawing primitives on the back buffer (clipped) ---- */

static void fill_rect(struct desktop *d, int x, int y, int w, int h, uint32_t color)
{
    int x0 = x < 0 ? 0 : x;
    int y0 = y < 0 ? 0 : y;
    int x1 = x + w > d->width ? d->width : x + w;
    int y1 = y + h > d->height ? d->height : y + h;
    for (int py = y0; py < y1; py++) {
        uint32_t *row = d->back + (size_t)py * (size_t)d->width;
        for (int px = x0; px < x1; px++) {
            row[px] = color;
        }
    }
}

static void frame_rect(struct desktop *d, int x, int y, int w, int h, uint32_t color)
{
    fill_rect(d, x, y, w, 1, color);
    fill_rect(d, x, y + h - 1, w, 1, color);
    fill_rect(d, x, y, 1, h, color);
    fill_rect(d, x + w - 1, y, 1, h, color);
}

static struct font_target back_target(struct desktop *d)
{
    struct font_target t = {
            .pixels = d->back, .width = d->width, .height = d->height, .stride_pixels = d->width};
    return t;
}

static void text(struct desktop *d, int x, int y, const char *s, uint32_t color, int scale)
{
    struct font_target t = back_target(d);
    font_draw_text(&t, x, y, s, color, scale);
}

/* A window: drop shadow, border, title bar with title, body; returns the body area. */
static struct area draw_window(struct desktop *d, const struct area *a, const char *title,
                               uint32_t body_color)
{
    fill_rect(d, a->x + 4, a->y + 4, a->w, a->h, COLOR_SHADOW);
    frame_rect(d, a->x, a->y, a->w, a->h, COLOR_BORDER);
    fill_rect(d, a->x + 1, a->y + 1, a->w - 2, TITLE_H, COLOR_TITLE);
    text(d, a->x + 8, a->y + 4, title, COLOR_TITLE_TEXT, 1);
    /* Three title bar buttons on the right, drawn as small framed squares. */
    for (int i = 0; i < 3; i++) {
        int bx = a->x + a->w - 18 - i * 16;
        frame_rect(d, bx, a->y + 4, 11, 11, COLOR_TITLE_TEXT);
    }
    fill_rect(d, a->x + 1, a->y + 1 + TITLE_H, a->w - 2, 1, COLOR_BORDER);
    struct area body = {a->x + 1, a->y + 2 + TITLE_H, a->w - 2, a->h - 3 - TITLE_H};
    fill_rect(d, body.x, body.y, body.w, body.h, body_color);
    return body;
}

/* ---- scene parts ---- */

static void draw_taskbar(struct desktop *d)
{
    char buf[128];
    fill_rect(d, 0, 0, d->width, TASKBAR_H, COLOR_TASKBAR);
    snprintf(buf, sizeof(buf), "Clove demo desktop - %s", d->name);
    text(d, 8, 6, buf, COLOR_TASKBAR_TEXT, 1);
    if (d->animation) {
        int s = d->seconds_of_day;
        snprintf(buf, sizeof(buf), "%02d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
    } else {
        snprintf(buf, sizeof(buf), "clock off");
    }
    text(d, d->width - 8 - font_text_width(buf, 1), 6, buf, COLOR_TASKBAR_TEXT, 1);
}

static void draw_about(struct desktop *d)
{
    static const char *const lines[] = {
            "A virtual desktop served over SPICE.",
            "Display: QXL draw commands (fill + copy).",
            "Keyboard: type into the Notes window.",
            "Mouse: click anywhere to leave a mark.",
            "Glyphs: !\"#$%&'()*+,-./0123456789:;<=>?@",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`",
            "abcdefghijklmnopqrstuvwxyz{|}~",
    };
    char buf[64];
    struct area body = draw_window(d, &d->about, "About", COLOR_BODY);
    text(d, body.x + 10, body.y + 8, "Clove", COLOR_TITLE, 3);
    snprintf(buf, sizeof(buf), "%dx%d", d->width, d->height);
    text(d, body.x + 10 + font_text_width("Clove", 3) + 12, body.y + 20, buf, COLOR_STATUS_TEXT, 1);
    int y = body.y + 8 + FONT_CELL_H * 3 + 6;
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        if (y + FONT_CELL_H > body.y + body.h) {
            break;
        }
        text(d, body.x + 10, y, lines[i], COLOR_BODY_TEXT, 1);
        y += FONT_CELL_H + 2;
    }
    /* Two colour swatches: solid areas inside the window body. */
    int sw = body.w / 6;
    if (y + 24 <= body.y + body.h) {
        fill_rect(d, body.x + 10, y + 4, sw, 20, COLOR_SWATCH_A);
        fill_rect(d, body.x + 20 + sw, y + 4, sw, 20, COLOR_SWATCH_B);
    }
}

static void draw_notes(struct desktop *d)
{
    char buf[96];
    struct area body = draw_window(d, &d->notes, "Notes (typed keys)", COLOR_NOTES_BODY);
    for (int r = 0; r < d->notes_rows; r++) {
        const char *line = d->notes_text + (size_t)r * (size_t)(d->notes_cols + 1);
        text(d, body.x + 6, body.y + 6 + r * FONT_CELL_H, line, COLOR_BODY_TEXT, 1);
    }
    /* The text cursor: an underline-height bar after the last character. */
    fill_rect(d, body.x + 6 + d->cursor_col * FONT_CELL_W,
              body.y + 6 + d->cursor_row * FONT_CELL_H + FONT_CELL_H - 2, FONT_CELL_W - 1, 2,
              COLOR_TEXT_CURSOR);
    int status_y = body.y + body.h - FONT_CELL_H - 4;
    fill_rect(d, body.x, status_y - 3, body.w, 1, COLOR_BODY);
    snprintf(buf, sizeof(buf), "keys %u  last 0x%04x  leds %s%s%s", d->keys_typed,
             (unsigned)d->last_scancode, (d->leds & 4) ? "CAPS " : "", (d->leds & 2) ? "NUM " : "",
             (d->leds & 1) ? "SCROLL" : "");
    text(d, body.x + 6, status_y, buf, COLOR_STATUS_TEXT, 1);
}

/* Deterministic animated content: a moving gradient, a bouncing square and a counter. */
static void draw_activity(struct desktop *d)
{
    char buf[64];
    struct area body = draw_window(d, &d->activity, "Activity", COLOR_BODY);
    struct area a = {body.x + 8, body.y + 8, body.w - 16, body.h - 16 - FONT_CELL_H - 4};
    if (a.w < 8 || a.h < 8) {
        return;
    }
    unsigned shift = (unsigned)(d->phase * 3u);
    for (int y = 0; y < a.h; y++) {
        uint32_t *row = d->back + (size_t)(a.y + y) * (size_t)d->width + a.x;
        unsigned g = (unsigned)(y * 255 / a.h);
        for (int x = 0; x < a.w; x++) {
            unsigned r = ((unsigned)(x * 255 / a.w) + shift) & 0xff;
            unsigned b = (0x40u + (unsigned)((x + y) & 0x3f)) & 0xff;
            row[x] = (r << 16) | (g << 8) | b;
        }
    }
    /* Bouncing square: a triangle wave in each direction. */
    int size = a.h / 4 < a.w / 4 ? a.h / 4 : a.w / 4;
    int span_x = a.w - size;
    int span_y = a.h - size;
    int px = span_x > 0 ? (int)((d->phase * 7u) % (uint64_t)(2 * span_x)) : 0;
    int py = span_y > 0 ? (int)((d->phase * 5u) % (uint64_t)(2 * span_y)) : 0;
    if (px > span_x) {
        px = 2 * span_x - px;
    }
    if (py > span_y) {
        py = 2 * span_y - py;
    }
    fill_rect(d, a.x + px, a.y + py, size, size, COLOR_TITLE_TEXT);
    frame_rect(d, a.x + px, a.y + py, size, size, COLOR_BORDER);
    if (d->animation) {
        snprintf(buf, sizeof(buf), "frame %llu", (unsigned long long)d->phase);
    } else {
        snprintf(buf, sizeof(buf), "animation off");
    }
    text(d, a.x, a.y + a.h + 4, buf, COLOR_BODY_TEXT, 1);
}

static void draw_pointer_window(struct desktop *d)
{
    char buf[96];
    struct area body = draw_window(d, &d->pointer_win, "Pointer", COLOR_BODY);
    int y = body.y + 8;
    snprintf(buf, sizeof(buf), "position %d,%d", d->pointer_x, d->pointer_y);
    text(d, body.x + 10, y, buf, COLOR_BODY_TEXT, 1);
    y += FONT_CELL_H + 2;
    snprintf(buf, sizeof(buf), "buttons %s%s%s", (d->buttons & 1) ? "L" : "-",
             (d->buttons & 4) ? "M" : "-", (d->buttons & 2) ? "R" : "-");
    text(d, body.x + 10, y, buf, COLOR_BODY_TEXT, 1);
    y += FONT_CELL_H + 2;
    snprintf(buf, sizeof(buf), "mode %s  wheel %d", d->server_mode ? "server" : "client",
             d->wheel_total);
    text(d, body.x + 10, y, buf, COLOR_BODY_TEXT, 1);
    y += FONT_CELL_H + 2;
    snprintf(buf, sizeof(buf), "clicks %d", d->click_count);
    text(d, body.x + 10, y, buf, COLOR_BODY_TEXT, 1);
    y += FONT_CELL_H + 2;
    int first = d->click_count > MAX_CLICKS ? d->click_count - MAX_CLICKS : 0;
    for (int i = d->click_count - 1; i >= first; i--) {
        if (y + FONT_CELL_H > body.y + body.h) {
            break;
        }
        const struct click_mark *m = &d->clicks[i % MAX_CLICKS];
        snprintf(buf, sizeof(buf), "#%d at %d,%d %s", i + 1, m->x, m->y,
                 m->button == 2 ? "right" : (m->button == 3 ? "middle" : "left"));
        text(d, body.x + 10, y, buf, COLOR_STATUS_TEXT, 1);
        y += FONT_CELL_H;
    }
}

static uint32_t click_color(int button)
{
    switch (button) {
    case 2:
        return COLOR_CLICK_RIGHT;
    case 3:
        return COLOR_CLICK_MIDDLE;
    default:
        return COLOR_CLICK_LEFT;
    }
}

static void draw_clicks(struct desktop *d)
{
    int first = d->click_count > MAX_CLICKS ? d->click_count - MAX_CLICKS : 0;
    for (int i = first; i < d->click_count; i++) {
        const struct click_mark *m = &d->clicks[i % MAX_CLICKS];
        uint32_t c = click_color(m->button);
        /* A 13x13 cross with a dark outline so it shows on any background. */
        fill_rect(d, m->x - 7, m->y - 2, 15, 5, COLOR_BORDER);
        fill_rect(d, m->x - 2, m->y - 7, 5, 15, COLOR_BORDER);
        fill_rect(d, m->x - 6, m->y - 1, 13, 3, c);
        fill_rect(d, m->x - 1, m->y - 6, 3, 13, c);
    }
}

static void render(struct desktop *d)
{
    fill_rect(d, 0, 0, d->width, d->height, d->background);
    draw_taskbar(d);
    draw_about(d);
    draw_activity(d);
    draw_pointer_window(d);
    draw_notes(d);
    draw_clicks(d);
}

/* ---- lifecycle ---- */

static void layout(struct desktop *d)
{
    int margin = 16;
    int top = TASKBAR_H + margin;
    int usable_h = d->height - top - margin;
    int col_w = (d->width - 3 * margin) / 2;
    int left_x = margin;
    int right_x = 2 * margin + col_w;
    int about_h = usable_h * 45 / 100;
    int notes_h = usable_h * 55 / 100;
    d->about = (struct area){left_x, top, col_w, about_h};
    d->activity = (struct area){left_x, top + about_h + margin, col_w, usable_h - about_h - margin};
    d->notes = (struct area){right_x, top, col_w, notes_h};
    d->pointer_win =
            (struct area){right_x, top + notes_h + margin, col_w, usable_h - notes_h - margin};
    /* Body minus padding and the status line. */
    int body_w = col_w - 2 - 12;
    int body_h = notes_h - 3 - TITLE_H - 12 - FONT_CELL_H - 8;
    d->notes_cols = body_w / FONT_CELL_W - 1;
    d->notes_rows = body_h / FONT_CELL_H;
}

struct desktop *desktop_create(const struct desktop_options *options)
{
    if (options->width < 320 || options->height < 240 || options->width > 8192 ||
        options->height > 8192) {
        return NULL;
    }
    struct desktop *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return NULL;
    }
    d->width = options->width;
    d->height = options->height;
    d->animation = options->animation;
    snprintf(d->name, sizeof(d->name), "%s", options->name ? options->name : "clove-demo");
    d->background = options->background != 0 ? options->background : COLOR_BACKGROUND;
    size_t n = (size_t)d->width * (size_t)d->height;
    d->front = calloc(n, sizeof(uint32_t));
    d->back = calloc(n, sizeof(uint32_t));
    layout(d);
    if (d->notes_rows < 1 || d->notes_cols < 4) {
        d->notes_rows = d->notes_rows < 1 ? 1 : d->notes_rows;
        d->notes_cols = d->notes_cols < 4 ? 4 : d->notes_cols;
    }
    d->notes_text = calloc((size_t)d->notes_rows * (size_t)(d->notes_cols + 1), 1);
    if (d->front == NULL || d->back == NULL || d->notes_text == NULL) {
        desktop_destroy(d);
        return NULL;
    }
    d->pointer_x = d->width / 2;
    d->pointer_y = d->height / 2;
    d->server_mode = true;
    d->first_update = true;
    return d;
}

void desktop_destroy(struct desktop *d)
{
    if (d == NULL) {
        return;
    }
    free(d->front);
    free(d->back);
    free(d->notes_text);
    free(d->rects);
    free(d);
}

int desktop_resize(struct desktop *d, int width, int height)
{
    if (width < 320 || height < 240 || width > 8192 || height > 8192) {
        return -EINVAL;
    }
    struct desktop_options options = {
            .width = width,
            .height = height,
            .animation = d->animation,
            .name = d->name,
            .background = d->background,
    };
    struct desktop *fresh = desktop_create(&options);
    if (fresh == NULL) {
        return -ENOMEM;
    }
    /* Keep the clock where it is; everything else starts over at the new size. */
    fresh->phase = d->phase;
    fresh->seconds_of_day = d->seconds_of_day;
    fresh->leds = d->leds;
    struct desktop old = *d;
    *d = *fresh;
    *fresh = old;
    desktop_destroy(fresh);
    return 0;
}

/* ---- state changes ---- */

void desktop_tick(struct desktop *d, uint64_t monotonic_ms, int seconds_of_day)
{
    if (!d->animation) {
        return;
    }
    d->phase = monotonic_ms / 100u;
    d->seconds_of_day = seconds_of_day;
}

static char *notes_line(struct desktop *d, int row)
{
    return d->notes_text + (size_t)row * (size_t)(d->notes_cols + 1);
}

void desktop_newline(struct desktop *d)
{
    if (d->cursor_row + 1 < d->notes_rows) {
        d->cursor_row++;
    } else {
        /* Scroll: drop the first line. */
        size_t line = (size_t)(d->notes_cols + 1);
        memmove(d->notes_text, d->notes_text + line, line * (size_t)(d->notes_rows - 1));
        memset(notes_line(d, d->notes_rows - 1), 0, line);
    }
    d->cursor_col = 0;
}

void desktop_type_char(struct desktop *d, char ch)
{
    if (d->cursor_col >= d->notes_cols) {
        desktop_newline(d);
    }
    char *line = notes_line(d, d->cursor_row);
    line[d->cursor_col++] = ch;
    line[d->cursor_col] = '\0';
}

void desktop_backspace(struct desktop *d)
{
    if (d->cursor_col > 0) {
        notes_line(d, d->cursor_row)[--d->cursor_col] = '\0';
    } else if (d->cursor_row > 0) {
        d->cursor_row--;
        d->cursor_col = (int)strlen(notes_line(d, d->cursor_row));
    }
}

void desktop_set_key_status(struct desktop *d, uint32_t scancode, unsigned leds)
{
    if ((scancode & 0x80) == 0) {
        d->keys_typed++;
    }
    d->last_scancode = scancode;
    d->leds = leds;
}

void desktop_set_pointer(struct desktop *d, int x, int y, uint32_t buttons, bool server_mode)
{
    d->pointer_x = x;
    d->pointer_y = y;
    d->buttons = buttons;
    d->server_mode = server_mode;
}

void desktop_add_click(struct desktop *d, int x, int y, int button)
{
    struct click_mark *m = &d->clicks[d->click_count % MAX_CLICKS];
    m->x = x;
    m->y = y;
    m->button = button;
    d->click_count++;
}

void desktop_add_wheel(struct desktop *d, int delta)
{
    d->wheel_total += delta;
}

/* ---- diffing ---- */

static int push_rect(struct desktop *d, int *count, const struct desktop_rect *r)
{
    if (*count == d->rect_capacity) {
        int cap = d->rect_capacity ? d->rect_capacity * 2 : 256;
        struct desktop_rect *n = realloc(d->rects, (size_t)cap * sizeof(*n));
        if (n == NULL) {
            return -ENOMEM;
        }
        d->rects = n;
        d->rect_capacity = cap;
    }
    d->rects[(*count)++] = *r;
    return 0;
}

/* Returns true when the tile differs; solid and color describe the back buffer tile. */
static bool tile_changed(const struct desktop *d, int tx, int ty, int tw, int th, bool *solid,
                         uint32_t *color)
{
    bool changed = d->first_update;
    uint32_t c0 = d->back[(size_t)ty * (size_t)d->width + (size_t)tx];
    bool same = true;
    for (int y = ty; y < ty + th; y++) {
        const uint32_t *b = d->back + (size_t)y * (size_t)d->width + tx;
        const uint32_t *f = d->front + (size_t)y * (size_t)d->width + tx;
        if (!changed && memcmp(b, f, (size_t)tw * sizeof(uint32_t)) != 0) {
            changed = true;
        }
        for (int x = 0; same && x < tw; x++) {
            same = b[x] == c0;
        }
    }
    *solid = same;
    *color = c0;
    return changed;
}

/* Tries to extend a solid rect from the previous tile row; returns true if merged. */
static bool merge_solid_down(struct desktop *d, int from, int count, const struct desktop_rect *r)
{
    for (int i = from; i < count; i++) {
        struct desktop_rect *p = &d->rects[i];
        if (p->solid && p->color == r->color && p->x == r->x && p->width == r->width &&
            p->y + p->height == r->y) {
            p->height += r->height;
            return true;
        }
    }
    return false;
}

const struct desktop_rect *desktop_update(struct desktop *d, int *count)
{
    render(d);
    int n = 0;
    bool lost = false;
    for (int ty = 0; ty < d->height; ty += TILE_H) {
        int th = ty + TILE_H > d->height ? d->height - ty : TILE_H;
        int row_start = n;
        struct desktop_rect run = {0};
        bool have_run = false;
        /* One extra step past the last tile (tx clamped to width) flushes the final run. */
        for (int tx = 0;; tx = tx + TILE_W > d->width ? d->width : tx + TILE_W) {
            bool changed = false;
            bool solid = false;
            uint32_t color = 0;
            int tw = 0;
            if (tx < d->width) {
                tw = tx + TILE_W > d->width ? d->width - tx : TILE_W;
                changed = tile_changed(d, tx, ty, tw, th, &solid, &color);
            }
            bool extends = have_run && changed && run.solid == solid &&
                           (!solid || run.color == color) && run.x + run.width == tx &&
                           (solid || run.width < 4 * TILE_W);
            if (extends) {
                run.width += tw;
                continue;
            }
            if (have_run) {
                if (!(run.solid && merge_solid_down(d, 0, row_start, &run))) {
                    lost |= push_rect(d, &n, &run) < 0;
                }
                have_run = false;
            }
            if (changed) {
                run = (struct desktop_rect){tx, ty, tw, th, solid, color};
                have_run = true;
            }
            if (tx >= d->width) {
                break;
            }
        }
    }
    /*
     * The front buffer now equals what the rects describe. If a rect could not
     * be recorded (out of memory), the next update resends everything.
     */
    memcpy(d->front, d->back, (size_t)d->width * (size_t)d->height * sizeof(uint32_t));
    d->first_update = lost;
    *count = n;
    return d->rects;
}

/* ---- accessors and output ---- */

const uint32_t *desktop_pixels(const struct desktop *d)
{
    return d->front;
}

int desktop_width(const struct desktop *d)
{
    return d->width;
}

int desktop_height(const struct desktop *d)
{
    return d->height;
}

int desktop_write_ppm(const struct desktop *d, const char *path)
{
    size_t len = strlen(path);
    char *tmp = malloc(len + 5);
    if (tmp == NULL) {
        return -ENOMEM;
    }
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp", 5);
    int err = 0;
    FILE *f = fopen(tmp, "wb");
    if (f == NULL) {
        err = -errno;
        free(tmp);
        return err;
    }
    size_t row_bytes = (size_t)d->width * 3;
    unsigned char *row = malloc(row_bytes);
    if (row == NULL) {
        err = -ENOMEM;
        goto error_file;
    }
    fprintf(f, "P6\n%d %d\n255\n", d->width, d->height);
    for (int y = 0; y < d->height; y++) {
        const uint32_t *src = d->front + (size_t)y * (size_t)d->width;
        for (int x = 0; x < d->width; x++) {
            row[3 * x] = (unsigned char)(src[x] >> 16);
            row[3 * x + 1] = (unsigned char)(src[x] >> 8);
            row[3 * x + 2] = (unsigned char)src[x];
        }
        if (fwrite(row, 1, row_bytes, f) != row_bytes) {
            err = -EIO;
            break;
        }
    }
    free(row);
error_file:
    if (fclose(f) != 0 && err == 0) {
        err = -errno;
    }
    if (err == 0 && rename(tmp, path) != 0) {
        err = -errno;
    }
    if (err != 0) {
        unlink(tmp);
    }
    free(tmp);
    return err;
}
