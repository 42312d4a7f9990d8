package rtml.flink;

import java.io.IOException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * RTML_JSON_FIELDS(raw BYTES): the top-level scalar fields of a JSON object as text, parsed once.
 *
 * <p>Returns NULL when the bytes are not exactly one JSON object (what {@code IS JSON OBJECT} rejects).
 * Strings give their value, numbers their JSON text, booleans "true"/"false"; null, objects and arrays are
 * left out (as {@code JSON_VALUE} gives NULL for them). Each built-in {@code JSON_VALUE} call parses the
 * whole event again; the feature job reads five fields in several operators, so this one parse per record
 * is what its throughput hangs on. Operators chained in one task thread see the same record one after the
 * other, so the last result is kept per thread and reused when the bytes are equal.
 */
public class JsonFields extends ScalarFunction {
    private static final JsonFactory FACTORY = new JsonFactory();
    private static final ThreadLocal<Object[]> LAST = ThreadLocal.withInitial(() -> new Object[2]);

    @SuppressWarnings("unchecked")
    public @DataTypeHint("MAP<STRING, STRING>") Map<String, String> eval(byte[] raw) {
        if (raw == null) {
            return null;
        }
        Object[] last = LAST.get();
        if (last[0] != null && Arrays.equals((byte[]) last[0], raw)) {
            return (Map<String, String>) last[1];
        }
        Map<String, String> fields = parse(raw);
        last[0] = raw.clone();
        last[1] = fields;
        return fields;
    }

    static Map<String, String> parse(byte[] raw) {
        try (JsonParser parser = FACTORY.createParser(raw)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            Map<String, String> fields = new HashMap<>(32);
            JsonToken token;
            while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
                String name = parser.currentName();
                JsonToken value = parser.nextToken();
                switch (value) {
                    case VALUE_STRING:
                    case VALUE_NUMBER_INT:
                    case VALUE_NUMBER_FLOAT:
                        fields.put(name, parser.getText());
                        break;
                    case VALUE_TRUE:
                        fields.put(name, "true");
                        break;
                    case VALUE_FALSE:
                        fields.put(name, "false");
                        break;
                    case START_OBJECT:
                    case START_ARRAY:
                        parser.skipChildren();
                        fields.remove(name);
                        break;
                    default:
                        fields.remove(name);
                }
            }
            if (token != JsonToken.END_OBJECT || parser.nextToken() != null) {
                return null;
            }
            return fields;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
