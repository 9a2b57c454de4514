/*
 * clove-view: a SPICE viewer on libclove-client and SDL2.
 *
 * One window shows the primary surface 1:1 (scaled with the aspect kept
 * when fullscreen). Keys go to the guest as PC/AT set-1 scancodes
 * (keymap.c). In client mouse mode the pointer's position is sent as is
 * and the guest's cursor shape becomes the SDL cursor; in server mode a
 * click captures the mouse (SDL relative mode), motion is sent relative,
 * the guest's cursor is drawn over the picture, and Ctrl+Alt releases the
 * capture. F11 toggles fullscreen, F12 an overlay with the frame rate,
 * bandwidth and round-trip time (overlay.c), Ctrl+Alt+End sends
 * Ctrl+Alt+Del.
 *
 * DESIGN: one thread. The loop runs the session for a few milliseconds
 * (its callbacks record what changed: the damaged area of the primary
 * surface, a new cursor, the mouse mode, the name), then drains SDL's
 * events, then uploads only the damaged rectangle to the streaming texture
 * and presents if anything changed.
 *
 * Options (options.c): spice://host:port URI, or -h/-p/-s/-w and --ca-file,
 * --host-subject as clove-shot; --fullscreen, --title TEXT, -v/--verbose.
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

struct viewer {
    struct options *opt;
    struct clove_session *session;
    SDL_Window *window;
    SDL_Renderer *renderer;
    SDL_Texture *texture; /* the primary surface, XRGB */
    int width, height;
    bool damaged;
    SDL_Rect damage; /* union of the changed areas not uploaded yet */
    bool redraw;     /* present again (overlay, cursor, expose) */
    bool fullscreen, captured, quit;
    int mouse_mode;
    /* keyboard */
    uint8_t held[512 / 8]; /* set-1 codes (0x100 | byte for E0) we sent down */
    bool end_is_delete;
    /* cursor */
    uint32_t cursor_serial;
    bool have_cursor;
    SDL_Cursor *sdl_cursor;
    SDL_Texture *cursor_texture; /* server mode: drawn over the picture */
    /* overlay */
    bool overlay;
    SDL_Texture *overlay_texture;
    int overlay_w, overlay_h;
    uint32_t presents, last_stats_ms;
    uint64_t last_rx, last_tx;
    char overlay_text[256];
};

/* ---- window, texture, title ---- */

static void update_title(struct viewer *v)
{
    if (!v->window) {
        return;
    }
    char title[1200];
    const char *name = clove_session_get_name(v->session);
    if (v->opt->title) {
        snprintf(title, sizeof(title), "%s", v->opt->title);
    } else if (name[0]) {
        snprintf(title, sizeof(title), "%s - clove-view", name);
    } else {
        snprintf(title, sizeof(title), "%s:%ld - clove-view", v->opt->host,
                 v->opt->port ? v->opt->port : v->opt->secure_port);
    }
    if (v->captured) {
        snprintf(title + strlen(title), sizeof(title) - strlen(title),
                 " (Ctrl+Alt releases the mouse)");
    }
    SDL_SetWindowTitle(v->window, title);
}

static void add_damage(struct viewer *v, int x, int y, int w, int h)
{
    SDL_Rect r = {x, y, w, h};
    if (v->damaged) {
        SDL_UnionRect(&v->damage, &r, &v->damage);
    } else {
        v->damage = r;
        v->damaged = true;
    }
}

/* A new primary surface: make the window (first time) and a texture of its size. */
static int primary_changed(struct viewer *v)
{
    struct clove_frame frame;
    if (clove_session_get_primary(v->session, &frame) < 0) {
        return 0;
    }
    int w = (int)frame.width, h = (int)frame.height;
    if (!v->window) {
        Uint32 flags =
                SDL_WINDOW_RESIZABLE | (v->opt->fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
        v->window = SDL_CreateWindow("clove-view", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED,
                                     w, h, flags);
        if (!v->window) {
            fprintf(stderr, "clove-view: cannot create a window: %s\n", SDL_GetError());
            return -1;
        }
        v->fullscreen = v->opt->fullscreen;
        v->renderer = SDL_CreateRenderer(v->window, -1, 0);
        if (!v->renderer) {
            v->renderer = SDL_CreateRenderer(v->window, -1, SDL_RENDERER_SOFTWARE);
        }
        if (!v->renderer) {
            fprintf(stderr, "clove-view: cannot create a renderer: %s\n", SDL_GetError());
            return -1;
        }
        update_title(v);
    } else if (!v->fullscreen && (w != v->width || h != v->height)) {
        SDL_SetWindowSize(v->window, w, h);
    }
    if (!v->texture || w != v->width || h != v->height) {
        if (v->texture) {
            SDL_DestroyTexture(v->texture);
        }
        /* RGB888 is 32-bit XRGB: B, G, R, X in memory, as the session's surfaces. */
        v->texture = SDL_CreateTexture(v->renderer, SDL_PIXELFORMAT_RGB888,
                                       SDL_TEXTUREACCESS_STREAMING, w, h);
        if (!v->texture) {
            fprintf(stderr, "clove-view: cannot create a %dx%d texture: %s\n", w, h,
                    SDL_GetError());
            return -1;
        }
        SDL_RenderSetLogicalSize(v->renderer, w, h);
    }
    v->width = w;
    v->height = h;
    add_damage(v, 0, 0, w, h);
    if (v->opt->verbose) {
        fprintf(stderr, "clove-view: primary surface %dx%d\n", w, h);
    }
    return 0;
}

/* ---- mouse capture and cursor ---- */

static void set_capture(struct viewer *v, bool on)
{
    if (on == v->captured) {
        return;
    }
    v->captured = on;
    SDL_SetRelativeMouseMode(on ? SDL_TRUE : SDL_FALSE);
    update_title(v);
    v->redraw = true;
}

static void cursor_changed(struct viewer *v)
{
    struct clove_cursor c;
    v->have_cursor = clove_session_get_cursor(v->session, &c) == 0;
    if (v->sdl_cursor) {
        SDL_FreeCursor(v->sdl_cursor);
        v->sdl_cursor = NULL;
    }
    if (v->cursor_texture) {
        SDL_DestroyTexture(v->cursor_texture);
        v->cursor_texture = NULL;
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
    if (v->renderer) {
        v->cursor_texture = SDL_CreateTextureFromSurface(v->renderer, surface);
        if (v->cursor_texture) {
            SDL_SetTextureBlendMode(v->cursor_texture, SDL_BLENDMODE_BLEND);
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
    v->redraw = true;
}

/* ---- session callbacks ---- */

static void on_area(struct clove_session *session, int x, int y, int w, int h, void *opaque)
{
    (void)session;
    add_damage(opaque, x, y, w, h);
}

static void on_event(struct clove_session *session, enum clove_event event, void *opaque)
{
    struct viewer *v = opaque;
    switch (event) {
    case CLOVE_EVENT_PRIMARY:
        if (primary_changed(v) < 0) {
            v->quit = true;
            clove_session_stop(session);
        }
        cursor_changed(v); /* textures need the renderer */
        break;
    case CLOVE_EVENT_NAME:
        update_title(v);
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

static void toggle_fullscreen(struct viewer *v)
{
    if (!v->window) {
        return;
    }
    v->fullscreen = !v->fullscreen;
    SDL_SetWindowFullscreen(v->window, v->fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
    if (!v->fullscreen) {
        SDL_SetWindowSize(v->window, v->width, v->height);
    }
    v->redraw = true;
}

static void handle_key(struct viewer *v, const SDL_KeyboardEvent *e)
{
    bool down = e->type == SDL_KEYDOWN;
    SDL_Scancode sc = e->keysym.scancode;
    SDL_Keymod mod = SDL_GetModState();
    bool ctrl_alt = (mod & KMOD_CTRL) && (mod & KMOD_ALT);
    if (sc == SDL_SCANCODE_F11 || sc == SDL_SCANCODE_F12) {
        if (down && !e->repeat && sc == SDL_SCANCODE_F11) {
            toggle_fullscreen(v);
        } else if (down && !e->repeat) {
            v->overlay = !v->overlay;
            v->last_stats_ms = 0; /* refresh the text now */
            v->redraw = true;
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

static void send_position(struct viewer *v, int x, int y)
{
    x = x < 0 ? 0 : (x >= v->width ? v->width - 1 : x);
    y = y < 0 ? 0 : (y >= v->height ? v->height - 1 : y);
    clove_session_mouse_position(v->session, (uint32_t)x, (uint32_t)y, 0);
}

static void handle_mouse(struct viewer *v, const SDL_Event *e)
{
    bool client = v->mouse_mode == CLOVE_MOUSE_MODE_CLIENT;
    switch (e->type) {
    case SDL_MOUSEMOTION:
        if (client) {
            send_position(v, e->motion.x, e->motion.y);
        } else if (v->captured) {
            clove_session_mouse_motion(v->session, e->motion.xrel, e->motion.yrel);
        }
        break;
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
        if (client) {
            send_position(v, e->button.x, e->button.y);
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
    switch (e->event) {
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
        v->redraw = true;
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

/* Once a period: recompute the rates and redraw the overlay's texture. */
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
    if (!v->overlay || !v->renderer) {
        return;
    }
    snprintf(v->overlay_text, sizeof(v->overlay_text),
             "FPS %s\nIN  %s\nOUT %s\nRTT %s\nMOUSE %s\n%dX%d", fps, rx, tx, rtt,
             v->mouse_mode == CLOVE_MOUSE_MODE_CLIENT ? "CLIENT" : "SERVER", v->width, v->height);
    int w, h;
    overlay_measure(v->overlay_text, 2, &w, &h);
    if (!v->overlay_texture || w != v->overlay_w || h != v->overlay_h) {
        if (v->overlay_texture) {
            SDL_DestroyTexture(v->overlay_texture);
        }
        v->overlay_texture = SDL_CreateTexture(v->renderer, SDL_PIXELFORMAT_ARGB8888,
                                               SDL_TEXTUREACCESS_STREAMING, w, h);
        if (!v->overlay_texture) {
            return;
        }
        SDL_SetTextureBlendMode(v->overlay_texture, SDL_BLENDMODE_BLEND);
        v->overlay_w = w;
        v->overlay_h = h;
    }
    uint32_t *pixels = malloc((size_t)w * h * 4);
    if (pixels) {
        overlay_draw(pixels, w, h, v->overlay_text, 2);
        SDL_UpdateTexture(v->overlay_texture, NULL, pixels, w * 4);
        free(pixels);
    }
    v->redraw = true;
}

/* ---- drawing ---- */

static void present(struct viewer *v)
{
    if (!v->renderer || !v->texture) {
        return;
    }
    if (v->damaged) {
        struct clove_frame f;
        SDL_Rect all = {0, 0, v->width, v->height}, r;
        if (clove_session_get_primary(v->session, &f) == 0 && (int)f.width == v->width &&
            (int)f.height == v->height && SDL_IntersectRect(&v->damage, &all, &r)) {
            const uint8_t *p = f.pixels + (size_t)r.y * (size_t)f.stride + (size_t)r.x * 4;
            SDL_UpdateTexture(v->texture, &r, p, f.stride);
        }
        v->damaged = false;
        v->redraw = true;
    }
    if (!v->redraw) {
        return;
    }
    v->redraw = false;
    SDL_SetRenderDrawColor(v->renderer, 0, 0, 0, 255);
    SDL_RenderClear(v->renderer);
    SDL_RenderCopy(v->renderer, v->texture, NULL, NULL);
    struct clove_cursor c;
    if (v->mouse_mode != CLOVE_MOUSE_MODE_CLIENT && v->cursor_texture &&
        clove_session_get_cursor(v->session, &c) == 0 && c.visible) {
        SDL_Rect dst = {c.x - (int)c.hot_x, c.y - (int)c.hot_y, (int)c.width, (int)c.height};
        SDL_RenderCopy(v->renderer, v->cursor_texture, NULL, &dst);
    }
    if (v->overlay && v->overlay_texture) {
        SDL_Rect dst = {8, 8, v->overlay_w, v->overlay_h};
        SDL_RenderCopy(v->renderer, v->overlay_texture, NULL, &dst);
    }
    SDL_RenderPresent(v->renderer);
    v->presents++;
}

/* ---- main ---- */

static int setup_session(struct viewer *v, struct options *o)
{
    struct clove_session *s = v->session;
    int rc = clove_session_set_server(s, o->host, (uint16_t)(o->port ? o->port : o->secure_port));
    if (rc == 0) {
        rc = clove_session_set_password(s, o->password);
    }
    if (rc < 0) {
        fprintf(stderr, "clove-view: %s\n",
                rc == CLOVE_E_RANGE ? "password too long (60 bytes at most)" : clove_strerror(rc));
        return 1;
    }
    if (o->secure_port && (rc = clove_session_set_tls(s, (uint16_t)o->secure_port, o->ca_file,
                                                      o->host_subject)) < 0) {
        fprintf(stderr, "clove-view: %s\n",
                rc == CLOVE_E_INVALID ? "bad --host-subject (want \"C=..,O=..,CN=..\")"
                                      : clove_strerror(rc));
        return rc == CLOVE_E_INVALID ? 2 : 1;
    }
    clove_session_set_area_callback(s, on_area, v);
    clove_session_set_event_callback(s, on_event, v);
    return 0;
}

static void destroy_viewer(struct viewer *v)
{
    if (v->sdl_cursor) {
        SDL_FreeCursor(v->sdl_cursor);
    }
    if (v->cursor_texture) {
        SDL_DestroyTexture(v->cursor_texture);
    }
    if (v->overlay_texture) {
        SDL_DestroyTexture(v->overlay_texture);
    }
    if (v->texture) {
        SDL_DestroyTexture(v->texture);
    }
    if (v->renderer) {
        SDL_DestroyRenderer(v->renderer);
    }
    if (v->window) {
        SDL_DestroyWindow(v->window);
    }
}

int main(int argc, char **argv)
{
    struct options o = {.host = "localhost"};
    int rc = options_parse(argc, argv, &o);
    if (rc != 0) {
        return rc;
    }
    if (o.port == 0 && o.secure_port == 0) {
        fprintf(stderr, "clove-view: no port given (-p PORT, -s PORT or spice://host:port)\n");
        return 2;
    }
    if (!o.ca_file) {
        o.ca_file = getenv("SPICE_CA_FILE");
    }
    struct viewer v = {.opt = &o};
    v.session = clove_session_create();
    if (!v.session) {
        fprintf(stderr, "clove-view: out of memory\n");
        return 1;
    }
    int exit_code = setup_session(&v, &o);
    if (exit_code != 0) {
        clove_session_destroy(v.session);
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
        return 1;
    }
    exit_code = 1;
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
        update_stats(&v);
        present(&v);
    }
    if (rc < 0) {
        fprintf(stderr, "clove-view: %s\n", clove_session_error(v.session));
    } else {
        exit_code = 0;
    }
    destroy_viewer(&v);
    clove_session_destroy(v.session);
    SDL_Quit();
    return exit_code;
}
