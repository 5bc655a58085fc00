-- Argo CD health check for modelship.io/ModelDeployment.
-- Argo CD runs it with the live object as the global `obj` (gopher-lua, Lua 5.1) and shows the
-- returned hs.status / hs.message. Statuses:
--   Progressing  no status yet, or the status is older than the spec (observedGeneration < generation),
--                or a rollout is under way (message: the Progressing condition)
--   Healthy      condition Ready is True (the desired version serves all traffic)
--   Degraded     phase RolledBack, Degraded or Failed, or condition Degraded True (message: the
--                rollback that happened, or the Degraded condition); checked before Suspended, so a
--                failure is never shown as a mere pause
--   Suspended    phase Paused: spec.paused, or waiting for a promote at a pause step (Progressing
--                reason WaitingForPromotion); `kubectl modelship promote|resume` moves it on
local hs = {}

local function condition(ctype)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == ctype then
      return c
    end
  end
  return nil
end

local function text(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

if obj.status == nil or obj.status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the modelship operator to report status"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the modelship operator to observe generation " .. tostring(generation) ..
    " (status is for generation " .. tostring(obj.status.observedGeneration) .. ")"
  return hs
end

local phase = obj.status.phase
local ready = condition("Ready")
local progressing = condition("Progressing")
local degraded = condition("Degraded")

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = text(ready, "Ready")
  return hs
end

if phase == "RolledBack" or phase == "Degraded" or phase == "Failed" or (degraded ~= nil and degraded.status == "True") then
  hs.status = "Degraded"
  local rb = obj.status.lastRollback
  -- The rollback explains a RolledBack phase only when it reverted the version the spec asks for
  -- (an aborted rollout is RolledBack too, without a new lastRollback).
  if phase == "RolledBack" and rb ~= nil and rb.from ~= nil and obj.spec ~= nil and rb.from.version == obj.spec.version then
    local to = ""
    if rb.to ~= nil and rb.to.version ~= nil then
      to = " to " .. rb.to.version
    end
    hs.message = "Rolled back from " .. rb.from.version .. to .. ": " .. (rb.reason or "unknown reason")
    if rb.message ~= nil and rb.message ~= "" then
      hs.message = hs.message .. ": " .. rb.message
    end
  elseif degraded ~= nil and degraded.status == "True" then
    hs.message = text(degraded, "Degraded")
  else
    hs.message = text(ready, "Phase " .. phase)
  end
  return hs
end

local waiting = progressing ~= nil and progressing.reason == "WaitingForPromotion"
if phase == "Paused" or waiting or (obj.spec ~= nil and obj.spec.paused == true) then
  hs.status = "Suspended"
  hs.message = text(progressing, text(ready, "Paused"))
  return hs
end

hs.status = "Progressing"
hs.message = text(progressing, text(ready, "Phase " .. (phase or "unknown")))
return hs
