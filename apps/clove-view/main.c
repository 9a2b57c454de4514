/*
 * clove-view: a SPICE viewer on libclove-client and SDL2.
 *
 * One window per monitor head, each showing its part of the guest's
 * display 1:1 (scaled with the aspect kept when fullscreen) and titled
 * with the VM name and the head number as remote-viewer does:
 * "NAME (N) - clove-view", or --title with %d replaced by N (" (N)"
 * appended when it has no %d). Keys go to the guest as PC/AT set-1 scancodes
 * (keymap.c). In client mouse mode the pointer's position is sent as is
 * and the guest's cursor shape becomes the SDL cursor; in server mode a
 * click captures the mouse (SDL relative mode), motion is sent relative,
 * the guest's cursor is drawn over the picture, and Ctrl+Alt releases the
 * capture. F11 toggles fullscreen, F12 an overlay with the frame rate,
 * bandwidth and round-trip time (overlay.c), Ctrl+Alt+End sends
 * Ctrl+Alt+Del.
 *
 * DESIGN: one thread. The loop runs the session for a few milliseconds
 * (its callbacks record what changed: the damaged area of the display, a
 * new cursor, the mouse mode, the name), then drains SDL's events, then
 * uploads to each head's streaming texture only the damaged rectangle
 * inside that head and presents the heads that changed.
 *
 * Heads: struct head is one window with its own renderer and textures
 * (SDL textures belong to one renderer) and the rectangle of the surface
 * of the display channel it shows. query_heads() is the one place that
 * asks the session what the heads are (clove_display_monitors(): every
 * display channel's MONITORS_CONFIG, or one head per channel covering its
 * primary surface). The session's callbacks only mark the layout stale
 * (a new primary surface, new heads, a change on a surface no head shows
 * yet); the loop rebuilds the windows between session runs, never inside
 * a callback. Keyboard, capture, fullscreen (F11 toggles every head) and
 * the overlay (F12, drawn on every head) are shared; mouse positions are
 * sent for the head under the pointer, offset by its rectangle, with its
 * display channel id.
 *
 * Options (options.c): spice://host:port URI or a remote-viewer .vv file,
 * or -h/-p/-s/-w and --ca-file, --host-subject as clove-shot;
 * --fullscreen, --title TEXT, -v/--verbose.
 * Exit status: 0 when the window was closed, 1 when the session failed, 2
 * for bad usage.
 */
#include <SDL.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clove/client.h"
#include "keymap.h"
#include "options.h"
#include "overlay.h"

#define RUN_SLICE_MS    5
#define STATS_PERIOD_MS 1000
#define MAX_HEADS       16

/* What query_heads() reports for one head. */
struct head_layout {
    SDL_Rect area;       /* the part of the surface the head shows */
    uint32_t display_id; /* the display channel (also for mouse positions) */
    uint32_t surface_id; /* the surface of that channel */
};

/* One monitor head: a window, its renderer and its textures. */
struct head {
    int number; /* 1-based, as shown in the title */
    struct head_layout layout;
    SDL_Window *window;
    Uint32 window_id;
    SDL_Renderer *renderer;
    SDL_Texture *texture;        /* the head's area of the display, XRGB */
    SDL_Texture *cursor_texture; /* server mode: drawn over the picture */
    SDL_Texture *overlay_texture;
    int overlay_w, overlay_h;
    bool damaged;
    SDL_Rect damage; /* union of changed areas not uploaded yet, head coordinates */
    bool redraw;     /* present again (overlay, cursor, expose) */
};

struct viewer {
    struct options *opt;
    struct clove_session *session;
    struct head heads[MAX_HEADS];
    int head_count;
    bool fullscreen, captured, quit;
    bool relayout; /* the heads may have changed: heads_changed() before drawing */
    int mouse_mode;
    /* keyboard */
    uint8_t held[512 / 8]; /* set-1 codes (0x100 | byte for E0) we sent down */
    bool end_is_delete;
    /* cursor */
    uint32_t cursor_serial;
    bool have_cursor;
    SDL_Cursor *sdl_cursor;
    /* overlay */
    bool overlay;
    uint32_t presents, last_stats_ms;
    uint64_t last_rx, last_tx;
    int display_width, display_height;
    char overlay_text[256];
};

/* ---- heads: layout, windows, titles ---- */

/*
 * The heads the session has now, at most `max`, in the session's order
 * (display channel 0 first); heads of no size (disabled monitors) are left
 * out. Returns the count.
 */
static int query_heads(struct viewer *v, struct head_layout *out, int max)
{
    struct clove_monitor monitors[MAX_HEADS];
    int n = clove_display_monitors(v->session, monitors, MAX_HEADS);
    int count = 0;
    for (int i = 0; i < n && i < MAX_HEADS && count < max; i++) {
        const struct clove_monitor *m = &monitors[i];
        if (m->width == 0 || m->height == 0 || m->width > 16384 || m->height > 16384 ||
            m->display_channel > 255) {
            continue;
        }
        out[count++] = (struct head_layout){
                .area = {m->x, m->y, (int)m->width, (int)m->height},
                .display_id = m->display_channel,
                .surface_id = m->surface_id,
        };
    }
    return count;
}

/* The pixels a head shows: its display channel's surface. */
static int head_frame(const struct viewer *v, const struct head *h, struct clove_frame *frame)
{
    return clove_session_get_surface(v->session, h->layout.display_id, h->layout.surface_id, frame);
}

static struct head *head_by_window(struct viewer *v, Uint32 window_id)
{
    for (int i = 0; i < v->head_count; i++) {
        if (v->heads[i].window_id == window_id) {
            return &v->heads[i];
        }
    }
    return NULL;
}

/*
 * remote-viewer's rule: the title (--title, the .vv file's, else the VM
 * name, else host:port) with its first %d replaced by the head number, or
 * " (N)" appended when it has none; then " - clove-view".
 */
static void head_title(const struct viewer *v, const struct head *h, char *out, size_t size)
{
    char base[1100];
    const char *name = clove_session_get_name(v->session);
    if (v->opt->title) {
        snprintf(base, sizeof(base), "%s", v->opt->title);
    } else if (name[0]) {
        snprintf(base, sizeof(base), "%s", name);
    } else {
        snprintf(base, sizeof(base), "%s:%ld", v->opt->host,
                 v->opt->port ? v->opt->port : v->opt->secure_port);
    }
    char *d = strstr(base, "%d");
    if (d) {
        *d = '\0';
        snprintf(out, size, "%s%d%s", base, h->number, d + 2);
    } else {
        snprintf(out, size, "%s (%d)", base, h->number);
    }
    size_t len = strlen(out);
    snprintf(out + len, size - len, "%s - clove-view",
             v->captured ? " (Ctrl+Alt releases the mouse)" : "");
}

static void update_titles(struct viewer *v)
{
    for (int i = 0; i < v->head_count; i++) {
        struct head *h = &v->heads[i];
        if (h->window) {
            char title[1400];
            head_title(v, h, title, sizeof(title));
            SDL_SetWindowTitle(h->window, title);
        }
    }
}

static void add_damage(struct head *h, int x, int y, int w, int hgt)
{
    SDL_Rect r = {x, y, w, hgt};
    if (h->damaged) {
        SDL_UnionRect(&h->damage, &r, &h->damage);
    } else {
        h->damage = r;
        h->damaged = true;
    }
}

static void head_destroy(struct head *h)
{
    if (h->cursor_texture) {
        SDL_DestroyTexture(h->cursor_texture);
    }
    if (h->overlay_texture) {
        SDL_DestroyTexture(h->overlay_texture);
    }
    if (h->texture) {
        SDL_DestroyTexture(h->texture);
    }
    if (h->renderer) {
        SDL_DestroyRenderer(h->renderer);
    }
    if (h->window) {
        SDL_DestroyWindow(h->window);
    }
    *h = (struct head){0};
}

/* Makes h's window (first time) and a texture of its area's size. */
static int head_setup(struct viewer *v, struct head *h, const struct head_layout *layout)
{
    int w = layout->area.w, hgt = layout->area.h;
    bool resized = w != h->layout.area.w || hgt != h->layout.area.h;
    if (!h->window) {
        Uint32 flags = SDL_WINDOW_RESIZABLE | (v->fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
        /* Head 1 where the window manager likes; others at their offset from it. */
        int x = h->number == 1 ? (int)SDL_WINDOWPOS_UNDEFINED : layout->area.x;
        int y = h->number == 1 ? (int)SDL_WINDOWPOS_UNDEFINED : layout->area.y;
        h->window = SDL_CreateWindow("clove-view", x, y, w, hgt, flags);
        if (!h->window) {
            fprintf(stderr, "clove-view: cannot create a window: %s\n", SDL_GetError());
            return -1;
        }
        h->window_id = SDL_GetWindowID(h->window);
        if (v->opt->verbose) {
            fprintf(stderr, "clove-view: head %d window%s\n", h->number,
                    (SDL_GetWindowFlags(h->window) & SDL_WINDOW_FULLSCREEN_DESKTOP) ==
                                    SDL_WINDOW_FULLSCREEN_DESKTOP
                            ? " fullscreen"
                            : "");
        }
        h->renderer = SDL_CreateRenderer(h->window, -1, 0);
        if (!h->renderer) {
            h->renderer = SDL_CreateRenderer(h->window, -1, SDL_RENDERER_SOFTWARE);
        }
        if (!h->renderer) {
            fprintf(stderr, "clove-view: cannot create a renderer: %s\n", SDL_GetError());
            return -1;
        }
        resized = true;
    } else if (!v->fullscreen && resized) {
        SDL_SetWindowSize(h->window, w, hgt);
    }
    if (!h->texture || resized) {
        if (h->texture) {
            SDL_DestroyTexture(h->texture);
        }
        /* RGB888 is 32-bit XRGB: B, G, R, X in memory, as the session's surfaces. */
        h->texture = SDL_CreateTexture(h->renderer, SDL_PIXELFORMAT_RGB888,
                                       SDL_TEXTUREACCESS_STREAMING, w, hgt);
        if (!h->texture) {
            fprintf(stderr, "clove-view: cannot create a %dx%d texture: %s\n", w, hgt,
                    SDL_GetError());
            return -1;
        }
        SDL_RenderSetLogicalSize(h->renderer, w, hgt);
    }
    h->layout = *layout;
    add_damage(h, 0, 0, w, hgt);
    h->redraw = true;
    return 0;
}

/* The display changed shape: match the heads to query_heads(). */
static int heads_changed(struct viewer *v)
{
    v->relayout = false;
    struct head_layout layouts[MAX_HEADS];
    int n = query_heads(v, layouts, MAX_HEADS);
    if (n == 0) {
        return 0;
    }
    for (int i = n; i < v->head_count; i++) {
        head_destroy(&v->heads[i]);
    }
    int kept = n < v->head_count ? n : v->head_count;
    for (int i = 0; i < n; i++) {
        v->heads[i].number = i + 1;
        if (head_setup(v, &v->heads[i], &layouts[i]) < 0) {
            /* destroy_viewer() frees what exists, this head's window included */
            v->head_count = i + 1 > kept ? i + 1 : kept;
            return -1;
        }
        if (v->opt->verbose) {
            fprintf(stderr, "clove-view: head %d %dx%d+%d+%d display %u surface %u\n", i + 1,
                    layouts[i].area.w, layouts[i].area.h, layouts[i].area.x, layouts[i].area.y,
                    layouts[i].display_id, layouts[i].surface_id);
        }
    }
    v->head_count = n;
    struct clove_frame frame;
    if (clove_session_get_primary(v->session, &frame) == 0) {
        v->display_width = (int)frame.width;
        v->display_height = (int)frame.height;
        if (v->opt->verbose) {
            fprintf(stderr, "clove-view: primary surface %ux%u\n", frame.width, frame.height);
        }
    }
    update_titles(v);
    return 0;
}

/* ---- mouse capture and cursor ---- */

static void redraw_all(struct viewer *v)
{
    for (int i = 0; i < v->head_count; i++) {
        v->heads[i].redraw = true;
    }
}

static void set_capture(struct viewer *v, bool on)
{
    if (on == v->captured) {
        return;
    }
    v->captured = on;
    SDL_SetRelativeMouseMode(on ? SDL_TRUE : SDL_FALSE);
    update_titles(v);
    redraw_all(v);
}

static void cursor_changed(struct viewer *v)
{
    struct clove_cursor c;
    v->have_cursor = clove_session_get_cursor(v->session, &c) == 0;
    if (v->sdl_cursor) {
        SDL_FreeCursor(v->sdl_cursor);
        v->sdl_cursor = NULL;
    }
    for (int i = 0; i < v->head_count; i++) {
        if (v->heads[i].cursor_texture) {
            SDL_DestroyTexture(v->heads[i].cursor_texture);
            v->heads[i].cursor_texture = NULL;
        }
    }
    if (!v->have_cursor || c.width == 0 || c.height == 0) {
        return;
    }
    v->cursor_serial = c.serial;
    if (v->opt->verbose) {
        fprintf(stderr, "clove-view: cursor %ux%u hot %u,%u\n", c.width, c.height, c.hot_x,
                c.hot_y);
    }
    SDL_Surface *surface =
            SDL_CreateRGBSurfaceWithFormatFrom((void *)c.argb, (int)c.width, (int)c.height, 32,
                                               (int)c.width * 4, SDL_PIXELFORMAT_ARGB8888);
    if (!surface) {
        return;
    }
    v->sdl_cursor = SDL_CreateColorCursor(surface, (int)c.hot_x, (int)c.hot_y);
    for (int i = 0; i < v->head_count; i++) {
        struct head *h = &v->heads[i];
        if (h->renderer) {
            h->cursor_texture = SDL_CreateTextureFromSurface(h->renderer, surface);
            if (h->cursor_texture) {
                SDL_SetTextureBlendMode(h->cursor_texture, SDL_BLENDMODE_BLEND);
            }
        }
    }
    SDL_FreeSurface(surface);
}

/* Client mode shows the guest's shape as the pointer; server mode draws it. */
static void apply_cursor(struct viewer *v)
{
    struct clove_cursor c;
    bool visible = clove_session_get_cursor(v->session, &c) == 0 && c.visible;
    if (v->mouse_mode == CLOVE_MOUSE_MODE_CLIENT) {
        if (v->sdl_cursor) {
            SDL_SetCursor(v->sdl_cursor);
        }
        SDL_ShowCursor(visible || !v->have_cursor ? SDL_ENABLE : SDL_DISABLE);
    } else {
        SDL_ShowCursor(v->captured ? SDL_DISABLE : SDL_ENABLE);
    }
    redraw_all(v);
}

/* ---- session callbacks ---- */

static void on_surface_area(struct clove_session *session, uint32_t display_channel,
                            uint32_t surface_id, int x, int y, int w, int h, void *opaque)
{
    (void)session;
    struct viewer *v = opaque;
    SDL_Rect changed = {x, y, w, h}, r;
    bool shown = false;
    for (int i = 0; i < v->head_count; i++) {
        struct head *hd = &v->heads[i];
        if (hd->layout.display_id != display_channel || hd->layout.surface_id != surface_id) {
            continue;
        }
        shown = true;
        if (SDL_IntersectRect(&changed, &hd->layout.area, &r)) {
            add_damage(hd, r.x - hd->layout.area.x, r.y - hd->layout.area.y, r.w, r.h);
        }
    }
    /* A surface no head shows: perhaps a display channel's first primary surface. */
    if (!shown && surface_id == 0) {
        v->relayout = true;
    }
}

static void on_monitors(struct clove_session *session, uint32_t display_channel, void *opaque)
{
    (void)session;
    (void)display_channel;
    struct viewer *v = opaque;
    v->relayout = true;
}

static void on_event(struct clove_session *session, enum clove_event event, void *opaque)
{
    struct viewer *v = opaque;
    switch (event) {
    case CLOVE_EVENT_PRIMARY:
        v->relayout = true; /* windows are remade by the loop, not in a callback */
        break;
    case CLOVE_EVENT_NAME:
        update_titles(v);
        break;
    case CLOVE_EVENT_MOUSE_MODE:
        v->mouse_mode = clove_session_get_mouse_mode(session);
        if (v->mouse_mode == CLOVE_MOUSE_MODE_CLIENT) {
            set_capture(v, false);
        }
        if (v->opt->verbose) {
            fprintf(stderr, "clove-view: mouse mode %s\n",
                    v->mouse_mode == CLOVE_MOUSE_MODE_CLIENT ? "client" : "server");
        }
        apply_cursor(v);
        break;
    case CLOVE_EVENT_INPUTS_READY: {
        SDL_Keymod mod = SDL_GetModState();
        uint32_t locks =
                ((mod & KMOD_CAPS) ? CLOVE_LOCK_CAPS : 0) | ((mod & KMOD_NUM) ? CLOVE_LOCK_NUM : 0);
        clove_session_set_locks(session,
                                locks | (clove_session_get_locks(session) & CLOVE_LOCK_SCROLL));
        if (v->opt->verbose) {
            fprintf(stderr, "clove-view: inputs ready\n");
        }
        break;
    }
    case CLOVE_EVENT_CURSOR_SHAPE:
        cursor_changed(v);
        apply_cursor(v);
        break;
    case CLOVE_EVENT_CURSOR_MOVE:
        apply_cursor(v);
        break;
    case CLOVE_EVENT_LOCKS:
        break;
    case CLOVE_EVENT_AGENT:
        if (v->opt->verbose) {
            fprintf(stderr, "clove-view: guest agent %s\n",
                    clove_session_agent_connected(session) ? "connected" : "disconnected");
        }
        break;
    }
}

/* ---- keyboard ---- */

static void key_send(struct viewer *v, uint32_t code, bool down)
{
    if (code == 0 || code >= 512) {
        return;
    }
    uint8_t bit = (uint8_t)(1u << (code % 8));
    if (down) {
        v->held[code / 8] |= bit;
        clove_session_key_down(v->session, code);
    } else if (v->held[code / 8] & bit) {
        v->held[code / 8] &= (uint8_t)~bit;
        clove_session_key_up(v->session, code);
    }
}

/* Releases every key the guest believes held (focus lost, capture released). */
static void release_all_keys(struct viewer *v)
{
    for (uint32_t code = 0; code < 512; code++) {
        key_send(v, code, false);
    }
    v->end_is_delete = false;
}

/* F11: every head enters or leaves fullscreen together, as remote-viewer's windows. */
static void toggle_fullscreen(struct viewer *v)
{
    v->fullscreen = !v->fullscreen;
    if (v->opt->verbose) {
        fprintf(stderr, "clove-view: fullscreen %s\n", v->fullscreen ? "on" : "off");
    }
    for (int i = 0; i < v->head_count; i++) {
        struct head *h = &v->heads[i];
        if (!h->window) {
            continue;
        }
        SDL_SetWindowFullscreen(h->window, v->fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
        if (!v->fullscreen) {
            SDL_SetWindowSize(h->window, h->layout.area.w, h->layout.area.h);
        }
        h->redraw = true;
    }
}

static void handle_key(struct viewer *v, const SDL_KeyboardEvent *e)
{
    bool down = e->type == SDL_KEYDOWN;
    SDL_Scancode sc = e->keysym.scancode;
    /* The modifiers when this key changed: SDL_GetModState() would give the
     * state after every queued event, so a quick Ctrl+Alt+End whose
     * releases are already queued would lose its Ctrl and Alt. */
    SDL_Keymod mod = (SDL_Keymod)e->keysym.mod;
    bool ctrl_alt = (mod & KMOD_CTRL) && (mod & KMOD_ALT);
    if (sc == SDL_SCANCODE_F11 || sc == SDL_SCANCODE_F12) {
        if (down && !e->repeat && sc == SDL_SCANCODE_F11) {
            toggle_fullscreen(v);
        } else if (down && !e->repeat) {
            v->overlay = !v->overlay;
            v->last_stats_ms = 0; /* refresh the text now */
            redraw_all(v);
        }
        return;
    }
    if (sc == SDL_SCANCODE_END && ((down && ctrl_alt) || (!down && v->end_is_delete))) {
        v->end_is_delete = down;
        key_send(v, keymap_to_set1(SDL_SCANCODE_DELETE), down);
        return;
    }
    bool is_ctrl_or_alt = sc == SDL_SCANCODE_LCTRL || sc == SDL_SCANCODE_RCTRL ||
                          sc == SDL_SCANCODE_LALT || sc == SDL_SCANCODE_RALT;
    if (down && is_ctrl_or_alt && ctrl_alt && v->captured) {
        set_capture(v, false);
        apply_cursor(v);
    }
    key_send(v, keymap_to_set1(sc), down);
}

/* ---- mouse ---- */

static int spice_button(Uint8 sdl_button)
{
    switch (sdl_button) {
    case SDL_BUTTON_LEFT:
        return CLOVE_BUTTON_LEFT;
    case SDL_BUTTON_MIDDLE:
        return CLOVE_BUTTON_MIDDLE;
    case SDL_BUTTON_RIGHT:
        return CLOVE_BUTTON_RIGHT;
    default:
        return 0;
    }
}

/* Client mode: (x, y) in h's window (logical) coordinates, sent in display coordinates. */
static void send_position(struct viewer *v, const struct head *h, int x, int y)
{
    const SDL_Rect *a = &h->layout.area;
    x = x < 0 ? 0 : (x >= a->w ? a->w - 1 : x);
    y = y < 0 ? 0 : (y >= a->h ? a->h - 1 : y);
    clove_session_mouse_position(v->session, (uint32_t)(a->x + x), (uint32_t)(a->y + y),
                                 (uint8_t)h->layout.display_id);
}

static void handle_mouse(struct viewer *v, const SDL_Event *e)
{
    bool client = v->mouse_mode == CLOVE_MOUSE_MODE_CLIENT;
    switch (e->type) {
    case SDL_MOUSEMOTION: {
        struct head *h = head_by_window(v, e->motion.windowID);
        if (client && h) {
            send_position(v, h, e->motion.x, e->motion.y);
        } else if (!client && v->captured) {
            clove_session_mouse_motion(v->session, e->motion.xrel, e->motion.yrel);
        }
        break;
    }
    case SDL_MOUSEBUTTONDOWN:
    case SDL_MOUSEBUTTONUP: {
        bool down = e->type == SDL_MOUSEBUTTONDOWN;
        if (!client && !v->captured) {
            if (down && v->mouse_mode == CLOVE_MOUSE_MODE_SERVER) {
                set_capture(v, true);
                apply_cursor(v);
            }
            break;
        }
        int button = spice_button(e->button.button);
        if (button == 0) {
            break;
        }
        struct head *h = head_by_window(v, e->button.windowID);
        if (client && h) {
            send_position(v, h, e->button.x, e->button.y);
        }
        clove_session_mouse_button(v->session, button, down);
        break;
    }
    case SDL_MOUSEWHEEL: {
        if (!client && !v->captured) {
            break;
        }
        int y = e->wheel.direction == SDL_MOUSEWHEEL_FLIPPED ? -e->wheel.y : e->wheel.y;
        int button = y > 0 ? CLOVE_BUTTON_UP : CLOVE_BUTTON_DOWN;
        for (int i = 0; i < (y > 0 ? y : -y); i++) {
            clove_session_mouse_button(v->session, button, true);
            clove_session_mouse_button(v->session, button, false);
        }
        break;
    }
    default:
        break;
    }
}

static void handle_window(struct viewer *v, const SDL_WindowEvent *e)
{
    struct head *h = head_by_window(v, e->windowID);
    switch (e->event) {
    case SDL_WINDOWEVENT_CLOSE:
        /* Closing any head closes the viewer (there is no per-head disable yet). */
        v->quit = true;
        break;
    case SDL_WINDOWEVENT_FOCUS_LOST:
        release_all_keys(v);
        set_capture(v, false);
        break;
    case SDL_WINDOWEVENT_FOCUS_GAINED: {
        SDL_Keymod mod = SDL_GetModState();
        uint32_t locks = ((mod & KMOD_CAPS) ? CLOVE_LOCK_CAPS : 0) |
                         ((mod & KMOD_NUM) ? CLOVE_LOCK_NUM : 0) |
                         (clove_session_get_locks(v->session) & CLOVE_LOCK_SCROLL);
        clove_session_set_locks(v->session, locks);
        break;
    }
    default:
        if (h) {
            h->redraw = true;
        }
        break;
    }
}

/* ---- overlay ---- */

static void format_rate(char *out, size_t size, double bytes_per_s)
{
    if (bytes_per_s >= 1024.0 * 1024.0) {
        snprintf(out, size, "%.2f MB/S", bytes_per_s / (1024.0 * 1024.0));
    } else if (bytes_per_s >= 1024.0) {
        snprintf(out, size, "%.1f KB/S", bytes_per_s / 1024.0);
    } else {
        snprintf(out, size, "%.0f B/S", bytes_per_s);
    }
}

/* Draws the overlay text into h's overlay texture (made or resized as needed). */
static void head_overlay(struct head *h, const char *text)
{
    int w, hgt;
    overlay_measure(text, 2, &w, &hgt);
    if (!h->overlay_texture || w != h->overlay_w || hgt != h->overlay_h) {
        if (h->overlay_texture) {
            SDL_DestroyTexture(h->overlay_texture);
        }
        h->overlay_texture = SDL_CreateTexture(h->renderer, SDL_PIXELFORMAT_ARGB8888,
                                               SDL_TEXTUREACCESS_STREAMING, w, hgt);
        if (!h->overlay_texture) {
            return;
        }
        SDL_SetTextureBlendMode(h->overlay_texture, SDL_BLENDMODE_BLEND);
        h->overlay_w = w;
        h->overlay_h = hgt;
    }
    uint32_t *pixels = malloc((size_t)w * (size_t)hgt * 4);
    if (pixels) {
        overlay_draw(pixels, w, hgt, text, 2);
        SDL_UpdateTexture(h->overlay_texture, NULL, pixels, w * 4);
        free(pixels);
    }
    h->redraw = true;
}

/* Once a period: recompute the rates and redraw the overlay's textures. */
static void update_stats(struct viewer *v)
{
    uint32_t now = SDL_GetTicks();
    if (v->last_stats_ms != 0 && now - v->last_stats_ms < STATS_PERIOD_MS) {
        return;
    }
    struct clove_stats st;
    clove_session_get_stats(v->session, &st);
    double seconds = v->last_stats_ms ? (now - v->last_stats_ms) / 1000.0 : 0;
    char rx[32] = "-", tx[32] = "-", rtt[32] = "-", fps[32] = "-";
    if (seconds > 0) {
        format_rate(rx, sizeof(rx), (double)(st.rx_bytes - v->last_rx) / seconds);
        format_rate(tx, sizeof(tx), (double)(st.tx_bytes - v->last_tx) / seconds);
        snprintf(fps, sizeof(fps), "%.1f", v->presents / seconds);
    }
    if (st.rtt_us >= 0) {
        snprintf(rtt, sizeof(rtt), "%.2f MS", (double)st.rtt_us / 1000.0);
    }
    v->last_stats_ms = now ? now : 1;
    v->last_rx = st.rx_bytes;
    v->last_tx = st.tx_bytes;
    v->presents = 0;
    if (!v->overlay) {
        return;
    }
    snprintf(v->overlay_text, sizeof(v->overlay_text),
             "FPS %s\nIN  %s\nOUT %s\nRTT %s\nMOUSE %s\n%dX%d %d HEAD%s", fps, rx, tx, rtt,
             v->mouse_mode == CLOVE_MOUSE_MODE_CLIENT ? "CLIENT" : "SERVER", v->display_width,
             v->display_height, v->head_count, v->head_count == 1 ? "" : "S");
    for (int i = 0; i < v->head_count; i++) {
        if (v->heads[i].renderer) {
            head_overlay(&v->heads[i], v->overlay_text);
        }
    }
}

/* ---- drawing ---- */

static void present_head(struct viewer *v, struct head *h)
{
    if (!h->renderer || !h->texture) {
        return;
    }
    if (h->damaged) {
        struct clove_frame f;
        const SDL_Rect *a = &h->layout.area;
        SDL_Rect all = {0, 0, a->w, a->h}, r;
        if (head_frame(v, h, &f) == 0 && a->x + a->w <= (int)f.width &&
            a->y + a->h <= (int)f.height && SDL_IntersectRect(&h->damage, &all, &r)) {
            const uint8_t *p =
                    f.pixels + (size_t)(a->y + r.y) * (size_t)f.stride + (size_t)(a->x + r.x) * 4;
            SDL_UpdateTexture(h->texture, &r, p, f.stride);
        }
        h->damaged = false;
        h->redraw = true;
    }
    if (!h->redraw) {
        return;
    }
    h->redraw = false;
    SDL_SetRenderDrawColor(h->renderer, 0, 0, 0, 255);
    SDL_RenderClear(h->renderer);
    SDL_RenderCopy(h->renderer, h->texture, NULL, NULL);
    struct clove_cursor c;
    if (v->mouse_mode != CLOVE_MOUSE_MODE_CLIENT && h->cursor_texture &&
        clove_session_get_cursor(v->session, &c) == 0 && c.visible) {
        SDL_Rect dst = {c.x - (int)c.hot_x - h->layout.area.x,
                        c.y - (int)c.hot_y - h->layout.area.y, (int)c.width, (int)c.height};
        SDL_RenderCopy(h->renderer, h->cursor_texture, NULL, &dst);
    }
    if (v->overlay && h->overlay_texture) {
        SDL_Rect dst = {8, 8, h->overlay_w, h->overlay_h};
        SDL_RenderCopy(h->renderer, h->overlay_texture, NULL, &dst);
    }
    SDL_RenderPresent(h->renderer);
    if (h->number == 1) {
        v->presents++;
    }
}

/* ---- main ---- */

static int setup_session(struct viewer *v, struct options *o)
{
    struct clove_session *s = v->session;
    int rc = clove_session_set_server(s, o->host, (uint16_t)(o->port ? o->port : o->secure_port));
    if (rc == 0) {
        rc = o->sasl ? clove_session_set_sasl(s, true, o->username, o->password)
                     : clove_session_set_password(s, o->password);
    }
    if (rc < 0) {
        fprintf(stderr, "clove-view: %s\n",
                rc == CLOVE_E_RANGE ? "password too long (60 bytes at most)" : clove_strerror(rc));
        return 1;
    }
    if (o->no_inputs) {
        clove_session_set_channel_disabled(s, CLOVE_CHANNEL_INPUTS, true);
    }
    if (o->no_cursor) {
        clove_session_set_channel_disabled(s, CLOVE_CHANNEL_CURSOR, true);
    }
    if (o->secure_port && (rc = clove_session_set_tls(s, (uint16_t)o->secure_port, o->ca_file,
                                                      o->host_subject)) < 0) {
        fprintf(stderr, "clove-view: %s\n",
                rc == CLOVE_E_INVALID ? "bad --host-subject (want \"C=..,O=..,CN=..\")"
                                      : clove_strerror(rc));
        return rc == CLOVE_E_INVALID ? 2 : 1;
    }
    clove_session_set_surface_area_callback(s, on_surface_area, v);
    clove_session_set_monitors_callback(s, on_monitors, v);
    clove_session_set_event_callback(s, on_event, v);
    return 0;
}

static void destroy_viewer(struct viewer *v)
{
    if (v->sdl_cursor) {
        SDL_FreeCursor(v->sdl_cursor);
    }
    for (int i = 0; i < v->head_count; i++) {
        head_destroy(&v->heads[i]);
    }
    v->head_count = 0;
}

int main(int argc, char **argv)
{
    struct options o = {.host = "localhost"};
    int rc = options_parse(argc, argv, &o);
    if (rc != 0) {
        return rc;
    }
    if (o.username && !o.sasl) {
        fprintf(stderr, "clove-view: --username needs --sasl\n");
        return 2;
    }
    if (o.vv_file && (rc = options_apply_vv(&o)) != 0) {
        options_finish(&o);
        return rc;
    }
    if (o.port == 0 && o.secure_port == 0) {
        fprintf(stderr, "clove-view: no port given (-p PORT, -s PORT, spice://host:port or a "
                        ".vv file)\n");
        options_finish(&o);
        return 2;
    }
    if (!o.ca_file) {
        o.ca_file = getenv("SPICE_CA_FILE");
    }
    struct viewer v = {.opt = &o, .fullscreen = o.fullscreen};
    v.session = clove_session_create();
    if (!v.session) {
        fprintf(stderr, "clove-view: out of memory\n");
        options_finish(&o);
        return 1;
    }
    int exit_code = setup_session(&v, &o);
    if (exit_code != 0) {
        clove_session_destroy(v.session);
        options_finish(&o);
        return exit_code;
    }
    /* Nearest-neighbour scaling keeps 1:1 pixels exact; the first click
     * into an unfocused window still reaches the guest. */
    SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "0");
    SDL_SetHint(SDL_HINT_MOUSE_FOCUS_CLICKTHROUGH, "1");
    SDL_SetHint(SDL_HINT_VIDEO_MINIMIZE_ON_FOCUS_LOSS, "0");
    if (SDL_Init(SDL_INIT_VIDEO) < 0) {
        fprintf(stderr, "clove-view: cannot initialise SDL: %s\n", SDL_GetError());
        clove_session_destroy(v.session);
        options_finish(&o);
        return 1;
    }
    exit_code = 1;
    bool window_failed = false; /* heads_changed() said why */
    rc = clove_session_connect(v.session);
    while (rc >= 0 && !v.quit) {
        rc = clove_session_run(v.session, RUN_SLICE_MS);
        if (rc < 0) {
            break;
        }
        SDL_Event e;
        while (SDL_PollEvent(&e)) {
            switch (e.type) {
            case SDL_QUIT:
                v.quit = true;
                break;
            case SDL_KEYDOWN:
            case SDL_KEYUP:
                handle_key(&v, &e.key);
                break;
            case SDL_MOUSEMOTION:
            case SDL_MOUSEBUTTONDOWN:
            case SDL_MOUSEBUTTONUP:
            case SDL_MOUSEWHEEL:
                handle_mouse(&v, &e);
                break;
            case SDL_WINDOWEVENT:
                handle_window(&v, &e.window);
                break;
            default:
                break;
            }
        }
        if (v.relayout) {
            if (heads_changed(&v) < 0) {
                window_failed = true;
                break;
            }
            cursor_changed(&v); /* its textures belong to the heads' renderers */
            apply_cursor(&v);
        }
        update_stats(&v);
        for (int i = 0; i < v.head_count; i++) {
            present_head(&v, &v.heads[i]);
        }
    }
    if (rc < 0) {
        fprintf(stderr, "clove-view: %s\n", clove_session_error(v.session));
    } else if (!window_failed) {
        exit_code = 0;
    }
    destroy_viewer(&v);
    clove_session_destroy(v.session);
    options_finish(&o);
    SDL_Quit();
    return exit_code;
}
