-- The read model of examples/{node,python}/projection: one row per cart,
-- and the PL/pgSQL handler the projection calls with each event of
-- category 'cart'.  Both programs run this file as it is.
CREATE TABLE IF NOT EXISTS cart_totals (
    cart     text   PRIMARY KEY,
    lines    int    NOT NULL,
    quantity int    NOT NULL,
    version  bigint NOT NULL);    -- offset of the last event applied

-- The worker calls the handler with its own search_path: pin this one.
CREATE OR REPLACE FUNCTION cart_totals_apply(e es.event) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF e.event_type = 'ItemAdded' THEN
        INSERT INTO cart_totals AS t (cart, lines, quantity, version)
        VALUES (e.stream, 1, (e.data->>'qty')::int, e.stream_offset)
        ON CONFLICT (cart) DO UPDATE
           SET lines = t.lines + 1, quantity = t.quantity + EXCLUDED.quantity,
               version = EXCLUDED.version;
    END IF;
END $$;
