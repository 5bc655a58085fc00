-- Argo CD health check for modelship.io/ModelVersion.
-- Argo CD runs it with the live object as the global `obj` (gopher-lua, Lua 5.1). Statuses:
--   Progressing  no status yet (the operator has not validated the version), or being deleted while
--                a ModelDeployment still serves it (condition InUse, reason DeletionBlocked: the
--                modelship.io/in-use-protection finalizer holds it; message says who uses it)
--   Degraded     phase Invalid (message: the Ready condition, what is wrong)
--   Healthy      condition Ready is True, whether or not a ModelDeployment uses it
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

if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the modelship operator to validate the version"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= nil and obj.status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the modelship operator to observe generation " .. tostring(generation)
  return hs
end

local ready = condition("Ready")
local inUse = condition("InUse")

if obj.metadata.deletionTimestamp ~= nil or obj.status.phase == "Terminating" then
  hs.status = "Progressing"
  if inUse ~= nil and inUse.reason == "DeletionBlocked" then
    hs.message = inUse.message
  else
    hs.message = "Being deleted"
  end
  return hs
end

if obj.status.phase == "Invalid" then
  hs.status = "Degraded"
  if ready ~= nil and ready.message ~= nil and ready.message ~= "" then
    hs.message = ready.message
  else
    hs.message = "The modelship operator found this version invalid"
  end
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  if inUse ~= nil and inUse.status == "True" then
    hs.message = inUse.message
  else
    hs.message = ready.message
  end
  return hs
end

hs.status = "Progressing"
if ready ~= nil then
  hs.message = ready.message
else
  hs.message = "Waiting for the Ready condition"
end
return hs
