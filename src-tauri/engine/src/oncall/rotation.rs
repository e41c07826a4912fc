//! A rotation: people taking shifts in turn, each shift `shift` long on the wall clock, each
//! person resting `rest` between two of theirs. "12×36" is a 12-hour shift and a 36-hour rest
//! (four people cover every hour); "24×72" the same with days; a weekly on-call is a 168-hour
//! shift with the rest until one's turn comes again.
//!
//! Shifts are counted in wall-clock time from the first one, so a handover set at 07:00 stays at
//! 07:00 across an offset change — the shift that spans the change is an hour shorter or longer,
//! as it is for the people working it.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// People taking shifts in turn.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// In turn: the first takes the first shift.
    pub people: Vec<String>,
    /// Each shift's length on the wall clock.
    pub shift: SignedDuration,
    /// Each person's rest between two of their shifts; None: until their turn comes again
    /// (`shift × (people − 1)`), so someone is always on call.
    pub rest: Option<SignedDuration>,
    /// When the first shift starts, on the wall clock of `time_zone`.
    pub first_shift: DateTime,
    pub time_zone: TimeZone,
}

/// One person's shift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    pub person: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Rotation {
    /// Each person's cycle: a shift and a rest.
    fn cycle(&self) -> SignedDuration {
        let others = self.people.len().saturating_sub(1) as i32;
        self.shift + self.rest.unwrap_or(self.shift * others)
    }

    /// The shift under way at `at`; None before the first shift, or in an hour nobody covers
    /// (a pattern with fewer people than it needs). Where shifts overlap (a rest shorter than
    /// the others' shifts), the one that started first.
    pub fn shift_at(&self, at: Timestamp) -> Option<Shift> {
        if self.people.is_empty() || self.shift <= SignedDuration::ZERO {
            return None;
        }
        let elapsed = self.time_zone.to_datetime(at).duration_since(self.first_shift);
        let cycle = self.cycle().as_secs();
        let mut found: Option<(SignedDuration, &String)> = None;
        for (i, person) in self.people.iter().enumerate() {
            let since_first = (elapsed - self.shift * i as i32).as_secs();
            if since_first < 0 {
                continue;
            }
            let into_shift = since_first % cycle;
            if into_shift < self.shift.as_secs() {
                let start = elapsed - SignedDuration::from_secs(into_shift);
                if found.is_none_or(|(s, _)| start < s) {
                    found = Some((start, person));
                }
            }
        }
        let (start, person) = found?;
        let start = self.first_shift.checked_add(start).ok()?;
        let end = start.checked_add(self.shift).ok()?;
        Some(Shift {
            person: person.clone(),
            start: self.time_zone.to_timestamp(start).ok()?,
            end: self.time_zone.to_timestamp(end).ok()?,
        })
    }
}

impl Rotation {
    /// The shifts that overlap `from..to`, in order of their start: the preview of the coming
    /// days, the team's calendar.
    pub fn shifts(&self, from: Timestamp, to: Timestamp) -> Vec<Shift> {
        if self.people.is_empty() || self.shift <= SignedDuration::ZERO || to <= from {
            return Vec::new();
        }
        let (cycle, tz) = (self.cycle(), &self.time_zone);
        let civil = |t: Timestamp| tz.to_datetime(t).duration_since(self.first_shift);
        let (from_c, to_c) = (civil(from), civil(to));
        let wall = |d: SignedDuration| {
            self.first_shift.checked_add(d).ok().and_then(|c| tz.to_timestamp(c).ok())
        };
        let mut shifts = Vec::new();
        for (i, person) in self.people.iter().enumerate() {
            let offset = self.shift * i as i32;
            // The first of this person's shifts that could still be under way at `from`.
            let behind = (from_c - offset - self.shift).as_secs();
            let mut m = if behind > 0 { behind / cycle.as_secs() } else { 0 };
            loop {
                let start = offset + SignedDuration::from_secs(m * cycle.as_secs());
                if start >= to_c {
                    break;
                }
                if start + self.shift > from_c {
                    if let (Some(start), Some(end)) = (wall(start), wall(start + self.shift)) {
                        shifts.push(Shift { person: person.clone(), start, end });
                    }
                }
                m += 1;
            }
        }
        shifts.sort_by_key(|s| s.start);
        shifts
    }
}

/// Someone standing in for another: "Bruno covers Ana from 07/12 19:00 to 08/12 07:00".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cover {
    /// Who is on call instead.
    pub person: String,
    /// Whose shifts they take in that time.
    pub covers: String,
    pub from: Timestamp,
    pub until: Timestamp,
    /// When it was made: of overlapping covers, the newest wins.
    pub made_at: Timestamp,
    pub made_by: String,
}

/// Who is on call, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnCall {
    pub person: String,
    pub until: Timestamp,
    /// Whom they cover, when it is a cover.
    pub covering: Option<String>,
}

/// Who is on call at `at`: the rotation's person, or — when a cover of theirs holds at that
/// moment — the newest such cover's person, until the cover or the shift ends.
pub fn on_call(rotation: &Rotation, covers: &[Cover], at: Timestamp) -> Option<OnCall> {
    let shift = rotation.shift_at(at)?;
    let cover = covers
        .iter()
        .filter(|c| c.covers == shift.person && c.from <= at && at < c.until)
        .max_by_key(|c| c.made_at);
    Some(match cover {
        Some(c) => OnCall {
            person: c.person.clone(),
            until: c.until.min(shift.end),
            covering: Some(shift.person),
        },
        None => OnCall { person: shift.person, until: shift.end, covering: None },
    })
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    const TEAM: [&str; 4] = ["Ana", "Bruno", "Carla", "Davi"];

    fn sao_paulo() -> TimeZone {
        TimeZone::get("America/Sao_Paulo").unwrap()
    }

    /// A wall-clock moment in São Paulo.
    fn sp(y: i16, mo: i8, d: i8, h: i8, mi: i8) -> Timestamp {
        sao_paulo().to_timestamp(date(y, mo, d).at(h, mi, 0, 0)).unwrap()
    }

    fn rotation(
        people: &[&str],
        shift_hours: i64,
        rest_hours: Option<i64>,
        first: DateTime,
    ) -> Rotation {
        Rotation {
            people: people.iter().map(|p| p.to_string()).collect(),
            shift: SignedDuration::from_hours(shift_hours),
            rest: rest_hours.map(SignedDuration::from_hours),
            first_shift: first,
            time_zone: sao_paulo(),
        }
    }

    /// Who is on call at `at`, from when, until when (wall clock, São Paulo).
    fn who(r: &Rotation, at: Timestamp) -> Option<(String, String, String)> {
        let tz = sao_paulo();
        let wall = |t: Timestamp| tz.to_datetime(t).strftime("%d/%m/%Y %H:%M").to_string();
        r.shift_at(at).map(|s| (s.person, wall(s.start), wall(s.end)))
    }

    fn shift(person: &str, start: &str, end: &str) -> Option<(String, String, String)> {
        Some((person.into(), start.into(), end.into()))
    }

    #[test]
    fn shifts_hand_over_in_turn_over_months() {
        let from_monday = date(2026, 1, 5).at(7, 0, 0, 0);
        let twelve_36 = rotation(&TEAM, 12, Some(36), from_monday);
        let twelve_36_default_rest = rotation(&TEAM, 12, None, from_monday);
        let twenty_four_72 = rotation(&TEAM, 24, Some(72), from_monday);
        let weekly = rotation(&TEAM[..3], 168, None, date(2026, 1, 5).at(9, 0, 0, 0));
        let two_people_12_36 = rotation(&TEAM[..2], 12, Some(36), from_monday);
        #[rustfmt::skip]
        let table = [
            ("12×36: the first shift", &twelve_36, sp(2026, 1, 5, 8, 0), shift("Ana", "05/01/2026 07:00", "05/01/2026 19:00")),
            ("12×36: the night shift", &twelve_36, sp(2026, 1, 5, 23, 0), shift("Bruno", "05/01/2026 19:00", "06/01/2026 07:00")),
            ("12×36: the handover minute belongs to the incoming", &twelve_36, sp(2026, 1, 6, 7, 0), shift("Carla", "06/01/2026 07:00", "06/01/2026 19:00")),
            ("12×36: the last minute to the outgoing", &twelve_36, sp(2026, 1, 6, 18, 59), shift("Carla", "06/01/2026 07:00", "06/01/2026 19:00")),
            ("12×36: back to the first after 36 hours' rest", &twelve_36, sp(2026, 1, 7, 7, 30), shift("Ana", "07/01/2026 07:00", "07/01/2026 19:00")),
            ("12×36: ten weeks on", &twelve_36, sp(2026, 3, 15, 10, 0), shift("Carla", "15/03/2026 07:00", "15/03/2026 19:00")),
            ("12×36: the rest written or derived is the same", &twelve_36_default_rest, sp(2026, 3, 15, 10, 0), shift("Carla", "15/03/2026 07:00", "15/03/2026 19:00")),
            ("24×72: a month on", &twenty_four_72, sp(2026, 2, 1, 12, 0), shift("Davi", "01/02/2026 07:00", "02/02/2026 07:00")),
            ("24×72: before the day's handover, yesterday's", &twenty_four_72, sp(2026, 2, 1, 6, 0), shift("Carla", "31/01/2026 07:00", "01/02/2026 07:00")),
            ("weekly: a Wednesday in April", &weekly, sp(2026, 4, 1, 10, 0), shift("Ana", "30/03/2026 09:00", "06/04/2026 09:00")),
            ("weekly: Monday before the handover", &weekly, sp(2026, 4, 6, 8, 59), shift("Ana", "30/03/2026 09:00", "06/04/2026 09:00")),
            ("weekly: Monday after it", &weekly, sp(2026, 4, 6, 9, 0), shift("Bruno", "06/04/2026 09:00", "13/04/2026 09:00")),
            ("12×36 with two people: nobody in the hours they rest", &two_people_12_36, sp(2026, 1, 6, 10, 0), None),
            ("12×36 with two people: the first again", &two_people_12_36, sp(2026, 1, 7, 8, 0), shift("Ana", "07/01/2026 07:00", "07/01/2026 19:00")),
            ("before the first shift: nobody", &twelve_36, sp(2026, 1, 5, 6, 59), None),
        ];
        for (case, r, at, want) in table {
            assert_eq!(who(r, at), want, "{case}");
        }
    }

    #[test]
    fn a_schedule_from_2018_hands_over_at_the_same_wall_clock_time_through_daylight_saving() {
        // Brazil's last daylight saving: from 04/11/2018 00:00 (to 01:00) to 17/02/2019 00:00
        // (back to 23:00 the day before). The handovers stay at 07:00 and 19:00.
        let r = rotation(&["Ana", "Bruno"], 12, None, date(2018, 1, 1).at(7, 0, 0, 0));
        #[rustfmt::skip]
        let table = [
            ("the last half hour of a night, a winter away from the first shift", sp(2018, 11, 3, 6, 30), shift("Bruno", "02/11/2018 19:00", "03/11/2018 07:00")),
            ("before it", sp(2018, 11, 3, 12, 0), shift("Ana", "03/11/2018 07:00", "03/11/2018 19:00")),
            ("the night the clocks go forward", sp(2018, 11, 4, 3, 0), shift("Bruno", "03/11/2018 19:00", "04/11/2018 07:00")),
            ("the day after", sp(2018, 11, 4, 8, 0), shift("Ana", "04/11/2018 07:00", "04/11/2018 19:00")),
            ("the night they go back", sp(2019, 2, 16, 22, 0), shift("Bruno", "16/02/2019 19:00", "17/02/2019 07:00")),
            ("seven years on, without it", sp(2026, 1, 5, 20, 0), shift("Bruno", "05/01/2026 19:00", "06/01/2026 07:00")),
        ];
        for (case, at, want) in table {
            assert_eq!(who(&r, at), want, "{case}");
        }
        // The shifts that span a change are as long as the people working them live them.
        let hours = |at| {
            let s = r.shift_at(at).unwrap();
            s.end.duration_since(s.start).as_hours()
        };
        assert_eq!(hours(sp(2018, 11, 4, 3, 0)), 11, "the clocks went forward");
        assert_eq!(hours(sp(2019, 2, 16, 22, 0)), 13, "the clocks went back");
        assert_eq!(hours(sp(2019, 3, 1, 22, 0)), 12);
    }

    #[test]
    fn the_coming_fortnight_lists_every_shift_in_order_and_nothing_twice() {
        let four = rotation(&TEAM, 12, Some(36), date(2026, 1, 5).at(7, 0, 0, 0));
        let (from, to) = (sp(2026, 3, 10, 10, 0), sp(2026, 3, 24, 10, 0));
        let shifts = four.shifts(from, to);
        assert_eq!(shifts.len(), 29, "28 shifts, plus the one under way at the start");
        assert_eq!(Some(shifts[0].clone()), four.shift_at(from), "starts with the shift under way");
        for pair in shifts.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "no gap, no overlap: {pair:?}");
        }
        for s in &shifts {
            assert_eq!(four.shift_at(s.start).as_ref(), Some(s), "each as `shift_at` sees it");
        }
        // Four people: each takes every fourth shift.
        let ana = shifts.iter().filter(|s| s.person == "Ana").count();
        assert!((7..=8).contains(&ana), "{ana}");

        let two = rotation(&TEAM[..2], 12, Some(36), date(2026, 1, 5).at(7, 0, 0, 0));
        let shifts = two.shifts(sp(2026, 1, 5, 0, 0), sp(2026, 1, 9, 7, 0));
        let wall = |t| sao_paulo().to_datetime(t).strftime("%d %H").to_string();
        let listed: Vec<_> = shifts.iter().map(|s| (s.person.as_str(), wall(s.start))).collect();
        let want = [("Ana", "05 07"), ("Bruno", "05 19"), ("Ana", "07 07"), ("Bruno", "07 19")];
        assert_eq!(
            listed,
            want.map(|(p, at)| (p, at.to_string())),
            "the hours nobody covers are not a shift"
        );
        let before = two.shifts(sp(2025, 12, 1, 0, 0), sp(2026, 1, 5, 7, 0));
        assert!(before.is_empty(), "nothing before the first shift: {before:?}");
    }

    fn cover(
        person: &str,
        covers: &str,
        from: Timestamp,
        until: Timestamp,
        made_at: Timestamp,
    ) -> Cover {
        Cover {
            person: person.into(),
            covers: covers.into(),
            from,
            until,
            made_at,
            made_by: "noc".into(),
        }
    }

    #[test]
    fn a_cover_wins_over_the_rotation_and_the_newest_of_overlapping_covers_wins() {
        let r = rotation(&TEAM, 12, Some(36), date(2026, 1, 5).at(7, 0, 0, 0));
        let made = sp(2026, 1, 1, 0, 0);
        let later = sp(2026, 1, 2, 0, 0);
        let covers = [
            // Inside Ana's day shift.
            cover("Bruno", "Ana", sp(2026, 1, 5, 10, 0), sp(2026, 1, 5, 12, 0), made),
            // Across Ana's shift into Bruno's own: covers Ana's part only.
            cover("Carla", "Ana", sp(2026, 1, 5, 18, 0), sp(2026, 1, 6, 8, 0), made),
            // Two covers of Carla's shift, the second made later and shorter.
            cover("Davi", "Carla", sp(2026, 1, 6, 8, 0), sp(2026, 1, 6, 16, 0), made),
            cover("Ana", "Carla", sp(2026, 1, 6, 10, 0), sp(2026, 1, 6, 12, 0), later),
        ];
        let at = |at| on_call(&r, &covers, at).map(|o| (o.person, o.until, o.covering));
        let by = |p: &str, until, covering: Option<&str>| {
            Some((p.to_string(), until, covering.map(str::to_string)))
        };
        #[rustfmt::skip]
        let table = [
            ("no cover yet", sp(2026, 1, 5, 9, 0), by("Ana", sp(2026, 1, 5, 19, 0), None)),
            ("a cover inside a shift", sp(2026, 1, 5, 11, 0), by("Bruno", sp(2026, 1, 5, 12, 0), Some("Ana"))),
            ("after it, the rotation again", sp(2026, 1, 5, 12, 30), by("Ana", sp(2026, 1, 5, 19, 0), None)),
            ("a cover across the handover: until the shift it covers ends", sp(2026, 1, 5, 18, 30), by("Carla", sp(2026, 1, 5, 19, 0), Some("Ana"))),
            ("…and not over the next person's shift", sp(2026, 1, 5, 20, 0), by("Bruno", sp(2026, 1, 6, 7, 0), None)),
            ("the older of two covers where only it holds", sp(2026, 1, 6, 9, 0), by("Davi", sp(2026, 1, 6, 16, 0), Some("Carla"))),
            ("the newest where both hold", sp(2026, 1, 6, 11, 0), by("Ana", sp(2026, 1, 6, 12, 0), Some("Carla"))),
            ("the older again when the newest ended", sp(2026, 1, 6, 13, 0), by("Davi", sp(2026, 1, 6, 16, 0), Some("Carla"))),
            ("no cover left", sp(2026, 1, 6, 17, 0), by("Carla", sp(2026, 1, 6, 19, 0), None)),
        ];
        for (case, moment, want) in table {
            assert_eq!(at(moment), want, "{case}");
        }
    }
}
