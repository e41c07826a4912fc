//! The user's hands and eyes on the tests' X display: find windows by title, click and type
//! through XTEST (real input events, as from a mouse and keyboard), and close a window the way a
//! window manager does when its × is clicked (`WM_DELETE_WINDOW`). Used where WebDriver cannot
//! reach: the tray icon and its GTK menu, and the window frame.

use std::time::Duration;

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ClientMessageEvent, ConnectionExt as _, EventMask, MapState, Window,
    BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT, KEY_PRESS_EVENT, KEY_RELEASE_EVENT,
    MOTION_NOTIFY_EVENT,
};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;
use x11rb::CURRENT_TIME;

pub const KEY_DOWN: u32 = 0xff54;
pub const KEY_RETURN: u32 = 0xff0d;

/// A window on the screen, in root coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    pub window: Window,
    pub x: i16,
    pub y: i16,
    pub width: u16,
    pub height: u16,
}

impl Area {
    pub fn centre(&self) -> (i16, i16) {
        (self.x + self.width as i16 / 2, self.y + self.height as i16 / 2)
    }
}

pub struct X11 {
    conn: RustConnection,
    root: Window,
}

impl X11 {
    pub fn connect(display: &str) -> X11 {
        let (conn, screen) =
            x11rb::connect(Some(display)).unwrap_or_else(|e| panic!("X display {display}: {e}"));
        let root = conn.setup().roots[screen].root;
        X11 { conn, root }
    }

    fn atom(&self, name: &str) -> u32 {
        self.conn.intern_atom(false, name.as_bytes()).unwrap().reply().unwrap().atom
    }

    /// The window's title (`_NET_WM_NAME`, else `WM_NAME`).
    fn title(&self, w: Window) -> String {
        let utf8 = self.atom("UTF8_STRING");
        for (prop, kind) in
            [(self.atom("_NET_WM_NAME"), utf8), (AtomEnum::WM_NAME.into(), AtomEnum::STRING.into())]
        {
            if let Ok(reply) =
                self.conn.get_property(false, w, prop, kind, 0, 1024).unwrap().reply()
            {
                if !reply.value.is_empty() {
                    return String::from_utf8_lossy(&reply.value).into_owned();
                }
            }
        }
        String::new()
    }

    fn area(&self, w: Window) -> Option<Area> {
        let g = self.conn.get_geometry(w).ok()?.reply().ok()?;
        let at = self.conn.translate_coordinates(w, self.root, 0, 0).ok()?.reply().ok()?;
        Some(Area { window: w, x: at.dst_x, y: at.dst_y, width: g.width, height: g.height })
    }

    /// Every window in the tree under the root, depth first.
    fn all_windows(&self) -> Vec<Window> {
        let mut out = Vec::new();
        let mut stack = vec![self.root];
        while let Some(w) = stack.pop() {
            if let Ok(tree) = self.conn.query_tree(w).unwrap().reply() {
                stack.extend(tree.children.iter().copied());
                out.extend(tree.children);
            }
        }
        out
    }

    /// The viewable windows whose title is `title`.
    pub fn windows_titled(&self, title: &str) -> Vec<Area> {
        self.all_windows()
            .into_iter()
            .filter(|&w| self.viewable(w) && self.title(w) == title)
            .filter_map(|w| self.area(w))
            .collect()
    }

    /// The icons docked in an XEmbed system tray (`trayer`'s window "panel"): the windows its
    /// sockets embed, whatever their title (Wine's have none).
    pub fn docked_icons(&self) -> Vec<Area> {
        let children = |w: Window| {
            self.conn
                .query_tree(w)
                .ok()
                .and_then(|c| c.reply().ok())
                .map(|t| t.children)
                .unwrap_or_default()
        };
        self.all_windows()
            .into_iter()
            .filter(|&w| self.title(w) == "panel")
            .flat_map(children)
            .flat_map(children)
            .filter(|&w| self.viewable(w))
            .filter_map(|w| self.area(w))
            .filter(|a| a.width >= 16)
            .collect()
    }

    fn viewable(&self, w: Window) -> bool {
        self.conn
            .get_window_attributes(w)
            .ok()
            .and_then(|c| c.reply().ok())
            .is_some_and(|a| a.map_state == MapState::VIEWABLE)
    }

    /// Viewable windows that bypass the window manager (menus, tooltips, popups), at least
    /// `min_height` tall: how an open GTK menu shows up.
    pub fn popups(&self, min_height: u16) -> Vec<Area> {
        let children = self.conn.query_tree(self.root).unwrap().reply().unwrap().children;
        children
            .into_iter()
            .filter(|&w| {
                self.conn
                    .get_window_attributes(w)
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .is_some_and(|a| a.map_state == MapState::VIEWABLE && a.override_redirect)
            })
            .filter_map(|w| self.area(w))
            .filter(|a| a.height >= min_height)
            .collect()
    }

    /// Moves the pointer to (x, y) and clicks the left button.
    pub fn click(&self, at: (i16, i16)) {
        self.click_button(at, 1);
    }

    /// Moves the pointer to (x, y) and clicks the right button.
    pub fn right_click(&self, at: (i16, i16)) {
        self.click_button(at, 3);
    }

    fn click_button(&self, (x, y): (i16, i16), button: u8) {
        self.conn
            .xtest_fake_input(MOTION_NOTIFY_EVENT, 0, CURRENT_TIME, self.root, x, y, 0)
            .unwrap();
        self.conn.flush().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        for event in [BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT] {
            self.conn.xtest_fake_input(event, button, CURRENT_TIME, self.root, 0, 0, 0).unwrap();
            self.conn.flush().unwrap();
            std::thread::sleep(Duration::from_millis(50));
        }
        // A round trip: the server has handled the events before we go on.
        self.conn.get_input_focus().unwrap().reply().unwrap();
    }

    /// Presses and releases the key that types `keysym`.
    pub fn key(&self, keysym: u32) {
        let setup = self.conn.setup();
        let (min, max) = (setup.min_keycode, setup.max_keycode);
        let map = self.conn.get_keyboard_mapping(min, max - min + 1).unwrap().reply().unwrap();
        let per = map.keysyms_per_keycode as usize;
        let index = map
            .keysyms
            .iter()
            .position(|&k| k == keysym)
            .unwrap_or_else(|| panic!("no key types keysym {keysym:#x}"));
        let keycode = min + (index / per) as u8;
        for event in [KEY_PRESS_EVENT, KEY_RELEASE_EVENT] {
            self.conn.xtest_fake_input(event, keycode, CURRENT_TIME, self.root, 0, 0, 0).unwrap();
            self.conn.flush().unwrap();
            std::thread::sleep(Duration::from_millis(50));
        }
        // A round trip: the server has handled the events before we go on.
        self.conn.get_input_focus().unwrap().reply().unwrap();
    }

    /// Asks the window to close, as a window manager does for its × button.
    pub fn close(&self, w: Window) {
        let protocols = self.atom("WM_PROTOCOLS");
        let delete = self.atom("WM_DELETE_WINDOW");
        let event = ClientMessageEvent::new(32, w, protocols, [delete, CURRENT_TIME, 0, 0, 0]);
        self.conn.send_event(false, w, EventMask::NO_EVENT, event).unwrap();
        self.conn.flush().unwrap();
    }
}
