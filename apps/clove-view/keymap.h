/*
 * keymap: SDL scancodes -> PC/AT set-1 scancodes for clove-view.
 */
#ifndef CLOVE_VIEW_KEYMAP_H
#define CLOVE_VIEW_KEYMAP_H

#include <SDL.h>
#include <stdint.h>

/* Returns the set-1 make code (0x100 | byte for 0xE0-prefixed keys), or 0
 * when the key has none we send. Thread: any. */
uint32_t keymap_to_set1(SDL_Scancode scancode);

#endif
