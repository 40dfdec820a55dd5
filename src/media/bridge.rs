//! The conference bridge (pjmedia's conference bridge is the model): every source and sink of
//! audio is a port — the microphone, the speaker, each call, a file player, a recorder
//! channel. Each tick every port puts in the frame it contributes; each port then takes the sum
//! of the ports connected to it, never itself (mix-minus: a call does not hear its own far end),
//! each scaled by the sender's and the listener's gain. Mixing is in 32 bits and saturates to
//! 16, so a loud conference clips instead of wrapping around. No clock and no device: the audio
//! engine ticks it.

/// A port's handle; stays valid until the port is removed (slots are reused afterwards).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortId(usize);

#[derive(Debug)]
struct Port {
    /// What the port contributes this tick (valid when `has_input`).
    input: Vec<i16>,
    has_input: bool,
    /// The mix this port hears this tick.
    output: Vec<i16>,
    /// Gain on what the port contributes, and on what it hears.
    tx_gain: f32,
    rx_gain: f32,
    /// The ports this one hears.
    hears: Vec<PortId>,
}

/// The bridge of ports, all at one rate and frame size.
#[derive(Debug)]
pub struct Bridge {
    frame: usize,
    ports: Vec<Option<Port>>,
    mix: Vec<i32>,
}

impl Bridge {
    /// A bridge whose ports exchange frames of `frame` samples.
    pub fn new(frame: usize) -> Bridge {
        Bridge {
            frame,
            ports: Vec::new(),
            mix: vec![0; frame],
        }
    }

    /// Samples per frame.
    pub fn frame(&self) -> usize {
        self.frame
    }

    /// A new port, connected to nothing, at unity gain.
    pub fn add_port(&mut self) -> PortId {
        let port = Port {
            input: vec![0; self.frame],
            has_input: false,
            output: vec![0; self.frame],
            tx_gain: 1.0,
            rx_gain: 1.0,
            hears: Vec::new(),
        };
        if let Some(i) = self.ports.iter().position(Option::is_none) {
            self.ports[i] = Some(port);
            PortId(i)
        } else {
            self.ports.push(Some(port));
            PortId(self.ports.len() - 1)
        }
    }

    /// Removes a port and every connection to and from it.
    pub fn remove_port(&mut self, id: PortId) {
        if let Some(slot) = self.ports.get_mut(id.0) {
            *slot = None;
        }
        for p in self.ports.iter_mut().flatten() {
            p.hears.retain(|h| *h != id);
        }
    }

    fn port(&mut self, id: PortId) -> Option<&mut Port> {
        self.ports.get_mut(id.0).and_then(Option::as_mut)
    }

    /// `to` hears `from` from the next mix on (a port never hears itself).
    pub fn connect(&mut self, from: PortId, to: PortId) {
        if from == to || self.ports.get(from.0).is_none_or(Option::is_none) {
            return;
        }
        if let Some(p) = self.port(to)
            && !p.hears.contains(&from)
        {
            p.hears.push(from);
        }
    }

    /// `to` no longer hears `from`.
    pub fn disconnect(&mut self, from: PortId, to: PortId) {
        if let Some(p) = self.port(to) {
            p.hears.retain(|h| *h != from);
        }
    }

    /// True when `to` hears `from`.
    pub fn is_connected(&self, from: PortId, to: PortId) -> bool {
        self.ports
            .get(to.0)
            .and_then(Option::as_ref)
            .is_some_and(|p| p.hears.contains(&from))
    }

    /// Removes every connection to and from `id` (a held call leaves the mix).
    pub fn isolate(&mut self, id: PortId) {
        if let Some(p) = self.port(id) {
            p.hears.clear();
        }
        for p in self.ports.iter_mut().flatten() {
            p.hears.retain(|h| *h != id);
        }
    }

    /// Linear gains on what `id` contributes (`tx`) and on what it hears (`rx`); 0 mutes.
    pub fn set_gain(&mut self, id: PortId, tx: f32, rx: f32) {
        if let Some(p) = self.port(id) {
            p.tx_gain = tx.max(0.0);
            p.rx_gain = rx.max(0.0);
        }
    }

    /// What `id` contributes this tick (shorter frames are padded with silence).
    pub fn put(&mut self, id: PortId, frame: &[i16]) {
        let n = self.frame;
        if let Some(p) = self.port(id) {
            let len = frame.len().min(n);
            p.input[..len].copy_from_slice(&frame[..len]);
            p.input[len..].fill(0);
            p.has_input = true;
        }
    }

    /// Mixes this tick: every port's output becomes the sum of what the ports it hears put
    /// in. Inputs are consumed (a port that puts nothing next tick contributes silence).
    pub fn mix(&mut self) {
        for i in 0..self.ports.len() {
            let Some(listener) = self.ports[i].as_ref() else {
                continue;
            };
            self.mix.fill(0);
            let mut any = false;
            for h in &listener.hears {
                let Some(src) = self.ports.get(h.0).and_then(Option::as_ref) else {
                    continue;
                };
                if !src.has_input || src.tx_gain == 0.0 {
                    continue;
                }
                any = true;
                if (src.tx_gain - 1.0).abs() < f32::EPSILON {
                    for (m, s) in self.mix.iter_mut().zip(&src.input) {
                        *m += i32::from(*s);
                    }
                } else {
                    for (m, s) in self.mix.iter_mut().zip(&src.input) {
                        *m += (f32::from(*s) * src.tx_gain) as i32;
                    }
                }
            }
            let rx_gain = listener.rx_gain;
            let Some(listener) = self.ports[i].as_mut() else {
                continue;
            };
            if !any || rx_gain == 0.0 {
                listener.output.fill(0);
                continue;
            }
            let unity = (rx_gain - 1.0).abs() < f32::EPSILON;
            for (o, m) in listener.output.iter_mut().zip(&self.mix) {
                let v = if unity {
                    *m
                } else {
                    (*m as f32 * rx_gain) as i32
                };
                *o = v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
            }
        }
        for p in self.ports.iter_mut().flatten() {
            p.has_input = false;
        }
    }

    /// What `id` hears this tick (after [`Bridge::mix`]); silence for an unknown port.
    pub fn output(&self, id: PortId) -> &[i16] {
        self.ports
            .get(id.0)
            .and_then(Option::as_ref)
            .map_or(&[][..], |p| p.output.as_slice())
    }

    /// The ports in use.
    pub fn len(&self) -> usize {
        self.ports.iter().flatten().count()
    }

    /// True when no port is in use.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn constant(v: i16) -> Vec<i16> {
        vec![v; 4]
    }

    #[test]
    fn each_port_hears_the_others_but_never_itself() {
        let mut b = Bridge::new(4);
        let (a, c, d) = (b.add_port(), b.add_port(), b.add_port());
        for (x, y) in [(a, c), (a, d), (c, a), (c, d), (d, a), (d, c)] {
            b.connect(x, y);
        }
        b.connect(a, a);
        b.put(a, &constant(100));
        b.put(c, &constant(20));
        b.put(d, &constant(3));
        b.mix();
        assert_eq!(b.output(a), &constant(23)[..]);
        assert_eq!(b.output(c), &constant(103)[..]);
        assert_eq!(b.output(d), &constant(120)[..]);
    }

    #[test]
    fn mixing_saturates_instead_of_wrapping() {
        let mut b = Bridge::new(4);
        let (a, c, out) = (b.add_port(), b.add_port(), b.add_port());
        b.connect(a, out);
        b.connect(c, out);
        b.put(a, &constant(30_000));
        b.put(c, &constant(30_000));
        b.mix();
        assert_eq!(b.output(out), &constant(i16::MAX)[..]);
        b.put(a, &constant(-30_000));
        b.put(c, &constant(-30_000));
        b.mix();
        assert_eq!(b.output(out), &constant(i16::MIN)[..]);
    }

    #[test]
    fn gains_and_mute_apply_per_port() {
        let mut b = Bridge::new(4);
        let (a, out) = (b.add_port(), b.add_port());
        b.connect(a, out);
        b.set_gain(a, 0.5, 1.0);
        b.put(a, &constant(1000));
        b.mix();
        assert_eq!(b.output(out), &constant(500)[..]);
        b.set_gain(out, 1.0, 2.0);
        b.put(a, &constant(1000));
        b.mix();
        assert_eq!(b.output(out), &constant(1000)[..]);
        b.set_gain(a, 0.0, 1.0);
        b.put(a, &constant(1000));
        b.mix();
        assert_eq!(b.output(out), &constant(0)[..]);
    }

    #[test]
    fn an_isolated_or_silent_port_leaves_the_mix() {
        let mut b = Bridge::new(4);
        let (a, c, out) = (b.add_port(), b.add_port(), b.add_port());
        b.connect(a, out);
        b.connect(c, out);
        b.connect(out, a);
        b.isolate(a);
        assert!(!b.is_connected(out, a) && !b.is_connected(a, out));
        b.put(a, &constant(7));
        b.put(c, &constant(5));
        b.mix();
        assert_eq!(b.output(out), &constant(5)[..]);
        // Inputs are consumed by the mix: a port that says nothing is silent next tick.
        b.mix();
        assert_eq!(b.output(out), &constant(0)[..]);
    }

    #[test]
    fn removed_ports_free_their_slot_and_connections() {
        let mut b = Bridge::new(4);
        let (a, out) = (b.add_port(), b.add_port());
        b.connect(a, out);
        b.remove_port(a);
        assert_eq!(b.len(), 1);
        let again = b.add_port();
        assert_eq!(again, a, "the slot is reused");
        assert!(
            !b.is_connected(again, out),
            "no connection survives removal"
        );
        b.put(again, &constant(9));
        b.mix();
        assert_eq!(b.output(out), &constant(0)[..]);
        assert!(b.output(PortId(99)).is_empty());
    }
}
