package kcmonitor.test;

import java.io.File;
import java.lang.reflect.Constructor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.source.SourceConnector;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.source.SourceTask;

/**
 * A source connector for the real-cluster tests that fails on command and otherwise idles (it never produces
 * a record, and each poll() sleeps ~1 s, so hundreds of idle tasks cost no CPU). Config keys, all optional:
 *
 *   task.fail          none (default) | marker | always | construct
 *                        marker:    fail while the file task.fail.marker exists (transient: remove the file,
 *                                   restart once, the task is RUNNING)
 *                        always:    fail on every start (permanent)
 *                        construct: the connector hands out a task class whose constructor throws, so the
 *                                   worker cannot even build the task (a restart answers 500 "Failed to start task")
 *   task.fail.where    start (default) | poll      where marker/always throw, see TroubleTask
 *   task.fail.ids      comma-separated task indexes that fail, e.g. "0" (default: every task)
 *   task.fail.marker   path of the marker file for task.fail=marker
 *   task.fail.class    exception class, made reflectively (default org.apache.kafka.connect.errors.ConnectException)
 *   task.fail.message  its message (default says which mode failed)
 *   task.fail.cause    message of a nested java.io.IOException, which puts a "Caused by:" in the trace
 *
 *   connector.fail     none (default) | marker | always     the Connector instance fails in start()
 *   connector.fail.marker | .class | .message | .cause      as for tasks
 *
 * Task failures happen in start() by default: the task thread calls it first, so a failure is there on the
 * first status read after a (re)start, deterministically. task.fail.where=poll fails in the first poll()
 * instead (a task that started and then died, as most real connectors fail). Either way the worker has
 * already built the task, so a per-task restart answers 204; only task.fail=construct fails while building.
 */
public class TroubleSourceConnector extends SourceConnector {
  static final String VERSION = "1.0.0";
  /** Added to each task's config by taskConfigs(): tasks are not told their id otherwise. */
  static final String TASK_INDEX = "trouble.task.index";

  private Map<String, String> config;

  @Override
  public String version() {
    return VERSION;
  }

  @Override
  public void start(Map<String, String> props) {
    config = new HashMap<>(props);
    String mode = config.getOrDefault("connector.fail", "none");
    if (shouldFail(mode, config.get("connector.fail.marker"))) {
      throw failure(config, "connector", "connector failed on command (connector.fail=" + mode + ")");
    }
  }

  @Override
  public Class<? extends Task> taskClass() {
    return "construct".equals(config.get("task.fail")) ? UnbuildableTask.class : TroubleTask.class;
  }

  @Override
  public List<Map<String, String>> taskConfigs(int maxTasks) {
    List<Map<String, String>> tasks = new ArrayList<>();
    for (int i = 0; i < maxTasks; i++) {
      Map<String, String> task = new HashMap<>(config);
      task.put(TASK_INDEX, Integer.toString(i));
      tasks.add(task);
    }
    return tasks;
  }

  @Override
  public void stop() {}

  @Override
  public ConfigDef config() {
    // No declared keys: validation accepts any of the keys above, and nothing is rejected before start().
    return new ConfigDef();
  }

  static boolean shouldFail(String mode, String marker) {
    switch (mode) {
      case "none":
      case "construct":
        return false;
      case "always":
        return true;
      case "marker":
        return marker != null && new File(marker).exists();
      default:
        throw new IllegalArgumentException("unknown fail mode: " + mode);
    }
  }

  /** The configured exception, built reflectively (with the cause when given); checked ones are thrown too. */
  static RuntimeException failure(Map<String, String> config, String prefix, String fallbackMessage) {
    String className = config.getOrDefault(prefix + ".fail.class", "org.apache.kafka.connect.errors.ConnectException");
    String message = config.getOrDefault(prefix + ".fail.message", fallbackMessage);
    String causeMessage = config.get(prefix + ".fail.cause");
    Throwable cause = causeMessage == null ? null : new java.io.IOException(causeMessage);
    Throwable t;
    try {
      Class<? extends Throwable> type = Class.forName(className).asSubclass(Throwable.class);
      t = construct(type, message, cause);
    } catch (ReflectiveOperationException | ClassCastException e) {
      t = new IllegalArgumentException("cannot make " + className + ": " + e, cause);
    }
    // Made reflectively, the trace would start with the reflection frames and these helpers: drop them, so
    // that it starts where a real connector's would, at the start() or poll() that throws.
    StackTraceElement[] frames = t.getStackTrace();
    int first = 0;
    for (int i = 0; i < frames.length; i++) {
      String m = frames[i].getMethodName();
      if (frames[i].getClassName().equals(TroubleSourceConnector.class.getName()) && (m.equals("failure") || m.equals("construct"))) first = i + 1;
    }
    t.setStackTrace(Arrays.copyOfRange(frames, first, frames.length));
    return TroubleSourceConnector.<RuntimeException>sneaky(t);
  }

  private static Throwable construct(Class<? extends Throwable> type, String message, Throwable cause)
      throws ReflectiveOperationException {
    if (cause != null) {
      try {
        return type.getConstructor(String.class, Throwable.class).newInstance(message, cause);
      } catch (NoSuchMethodException e) {
        // e.g. ConfigException has no (String, Throwable): use (String), then initCause below.
      }
    }
    Constructor<? extends Throwable> c = type.getConstructor(String.class);
    Throwable t = c.newInstance(message);
    if (cause != null) t.initCause(cause);
    return t;
  }

  @SuppressWarnings("unchecked")
  private static <T extends Throwable> T sneaky(Throwable t) throws T {
    throw (T) t;
  }

  /** The task: fails as configured, otherwise idles. */
  public static class TroubleTask extends SourceTask {
    private final CountDownLatch stopped = new CountDownLatch(1);
    private Map<String, String> config;
    private boolean failInPoll;

    @Override
    public String version() {
      return VERSION;
    }

    @Override
    public void start(Map<String, String> props) {
      config = props;
      String mode = props.getOrDefault("task.fail", "none");
      String ids = props.get("task.fail.ids");
      String index = props.getOrDefault(TASK_INDEX, "0");
      boolean chosen = ids == null || Arrays.asList(ids.split("\\s*,\\s*")).contains(index);
      boolean fail = chosen && shouldFail(mode, props.get("task.fail.marker"));
      if (fail && "poll".equals(props.getOrDefault("task.fail.where", "start"))) {
        failInPoll = true;
      } else if (fail) {
        throw failure(props, "task", "task " + index + " failed on command (task.fail=" + mode + ", in start)");
      }
    }

    @Override
    public List<SourceRecord> poll() throws InterruptedException {
      if (failInPoll) {
        throw failure(config, "task", "task " + config.getOrDefault(TASK_INDEX, "0") + " failed on command (task.fail="
            + config.get("task.fail") + ", in poll)");
      }
      // Idle without spinning: Connect calls poll() in a loop, and returning null at once would burn a core.
      stopped.await(1, TimeUnit.SECONDS);
      return Collections.emptyList();
    }

    @Override
    public void stop() {
      stopped.countDown();
    }
  }

  /** Handed out with task.fail=construct: the worker fails to instantiate it (Worker.startTask). */
  public static class UnbuildableTask extends TroubleTask {
    public UnbuildableTask() {
      throw new IllegalStateException("task cannot be built (task.fail=construct)");
    }
  }
}
