import type { Migration } from "@flotilla/kit";

/** The catalog's schema, in order. Applied migrations are never edited: add a new one. */
export const migrations: readonly Migration[] = [
  {
    id: "0001_create_events",
    sql: `
      CREATE TABLE events (
        event_id     text PRIMARY KEY,
        title        text NOT NULL,
        description  text NOT NULL DEFAULT '',
        category     integer NOT NULL,
        venue        text NOT NULL,
        city         text NOT NULL,
        starts_at    timestamptz NOT NULL,
        capacity     integer NOT NULL CHECK (capacity > 0),
        price_minor  bigint NOT NULL CHECK (price_minor >= 0),
        currency     char(3) NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX events_by_start ON events (starts_at, event_id);
      CREATE INDEX events_by_city_start ON events (lower(city), starts_at, event_id);
    `,
  },
  {
    id: "0002_create_city_calendar",
    sql: `
      -- Read model maintained by the city-calendar projection (projections.ts).
      CREATE TABLE city_calendar (
        city_key  text NOT NULL,
        day       date NOT NULL,
        events    integer NOT NULL,
        seats     bigint NOT NULL,
        PRIMARY KEY (city_key, day)
      );
    `,
  },
];
